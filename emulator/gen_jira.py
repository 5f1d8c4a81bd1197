"""Deterministic Jira site: projects, workflow statuses and issues with full change histories.

An issue is its creation plus a list of change events (status transitions with their resolution changes,
label/assignee/priority edits, rank noise, moves between projects, comments). Fields at the clock are folded
from the events, so `fields.status`, `resolutiondate`, `updated`, the key and the changelog always agree.

What flow metrics must survive is planted on purpose and also occurs at random: issues reopened and closed
again, closed without ever being in progress, moved to another project (the key changes, the id stays),
deleted (they vanish from every answer), with hundreds of changelog entries, and a workflow status renamed
part-way through the history (changelog strings keep the name of their time; the id never changes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from emulator.ids import rng
from emulator.timefmt import DAY, HOUR, MINUTE
from emulator.timeline import LazyRecords, Person, Picker, Scale, ViewCache, Window, arrivals, pick_duration, weighted


@dataclass(frozen=True)
class JiraStatus:
    id: str
    name: str
    category: str  # new | indeterminate | done


@dataclass(frozen=True)
class JiraIssueType:
    id: str
    name: str
    description: str
    avatar_id: int


@dataclass(frozen=True)
class JiraProject:
    id: str
    key: str
    name: str
    lead: int
    weight: float


STATUSES = {
    s.id: s
    for s in (
        JiraStatus("10000", "To Do", "new"),
        JiraStatus("3", "In Progress", "indeterminate"),
        JiraStatus("10001", "In Review", "indeterminate"),
        JiraStatus("10002", "Done", "done"),
        JiraStatus("10003", "Won't Do", "done"),
    )
}
TODO, IN_PROGRESS, IN_REVIEW, DONE, WONT_DO = "10000", "3", "10001", "10002", "10003"
# Status renamed by an admin at (anchor + offset): its id and category stay, its name changes.
STATUS_RENAMES = {IN_REVIEW: (-40 * DAY, "Code Review")}
RESOLUTIONS = {DONE: ("10000", "Done"), WONT_DO: ("10001", "Won't Do")}
CATEGORIES = {  # key -> (id, colorName, name)
    "new": (2, "blue-gray", "To Do"),
    "indeterminate": (4, "yellow", "In Progress"),
    "done": (3, "green", "Done"),
}
ISSUE_TYPES = {
    t.id: t
    for t in (
        JiraIssueType("10001", "Task", "A small, distinct piece of work.", 10318),
        JiraIssueType("10004", "Bug", "A problem or error.", 10303),
        JiraIssueType("10002", "Story", "A user-facing feature, written from the user's view.", 10315),
        JiraIssueType(
            "10005", "Incident", "An unplanned interruption or reduction in quality of service.", 10300
        ),
    )
}
PRIORITIES = {"1": "Highest", "2": "High", "3": "Medium", "4": "Low", "5": "Lowest"}
LABELS = ("backend", "frontend", "customer-reported", "tech-debt", "security", "flaky-test", "p1")

_PROJECTS = (("OPS", "Operations", 0.6), ("WEB", "Web Platform", 0.4), ("PAY", "Payments", 0.3))
_SYSTEMS = ("checkout-api", "auth-service", "api-gateway", "payments-worker", "web-frontend")
_SUMMARIES = {
    "10004": (
        "Login fails with SSO when the email has uppercase letters",
        "Checkout total rounds incorrectly for JPY",
        "Crash on Android 15 when opening receipts",
        "Fehlermeldung beim Export nach CSV (Umlaute kaputt)",
        "Search returns duplicates after reindex",
        "Timeout calling the payments provider from {sys}",
        "Dates shown one day off for users in UTC−08:00",
    ),
    "10001": (
        "Rotate database credentials for {sys}",
        "Upgrade Postgres to 16 on {sys}",
        "Add SLO dashboards for {sys}",
        "Remove feature flag new_checkout_flow",
        "Write the on-call runbook for {sys}",
    ),
    "10002": (
        "As a customer I can save my card for later",
        "As an admin I can export audit logs",
        "Support Apple Pay in checkout",
        "Show delivery ETA on the order page – “beta”",
        "Allow <script>-free HTML & Markdown in order notes",
    ),
    "10005": (
        "Postmortem follow-up: {sys} outage",
        "Customer-reported: orders stuck in pending",
        "Incident: elevated 5xx on {sys}",
    ),
}


@dataclass(frozen=True)
class JiraChange:
    field: str
    fieldtype: str
    field_id: str
    from_value: str | None
    from_string: str | None
    to_value: str | None
    to_string: str | None


@dataclass(frozen=True)
class JiraEvent:
    """A change by one author at one time; history_id is None for comments (not changelog entries)."""

    at_ms: int
    author: int
    changes: tuple[JiraChange, ...]
    history_id: str | None


@dataclass(frozen=True)
class JiraIssue:
    n: int
    id: str
    key: str
    project_key: str
    issuetype_id: str
    summary: str
    created_ms: int
    reporter: int
    priority_id: str | None
    labels: tuple[str, ...]
    assignee: str | None  # accountId
    events: tuple[JiraEvent, ...]
    scenario: str | None = None
    deleted_ms: int | None = None  # gone from every answer from this instant on
    keys: tuple[str, ...] = ()  # every key the issue has had (moves), oldest first; empty = just `key`

    @property
    def number(self) -> int:
        return int(self.key.rsplit("-", 1)[1])

    def exists(self, now_ms: int) -> bool:
        return self.created_ms <= now_ms and (self.deleted_ms is None or now_ms < self.deleted_ms)


@dataclass(frozen=True)
class JiraIssueState:
    status_id: str
    priority_id: str | None
    labels: tuple[str, ...]
    assignee: str | None
    resolution_ms: int | None
    updated_ms: int
    status_change_ms: int
    histories: tuple[JiraEvent, ...]
    comments: int
    key: str = ""  # current key (changes when the issue moves to another project)
    project_key: str = ""

    @property
    def category(self) -> str:
        return STATUSES[self.status_id].category

    @property
    def number(self) -> int:
        return int(self.key.rsplit("-", 1)[1])


def issue_state(issue: JiraIssue, now_ms: int) -> JiraIssueState | None:
    if issue.created_ms > now_ms:
        return None
    status, priority, labels, assignee = TODO, issue.priority_id, issue.labels, issue.assignee
    key, project_key = (issue.keys or (issue.key,))[0], issue.project_key
    resolution_ms: int | None = None
    updated = status_change = issue.created_ms
    histories = []
    comments = 0
    for ev in issue.events:
        if ev.at_ms > now_ms:
            break
        updated = ev.at_ms
        if ev.history_id is None:
            comments += 1
            continue
        histories.append(ev)
        for ch in ev.changes:
            if ch.field == "status":
                status = ch.to_value or status
                if STATUSES[status].category != STATUSES[ch.from_value or TODO].category:
                    status_change = ev.at_ms
                resolution_ms = ev.at_ms if STATUSES[status].category == "done" else None
            elif ch.field == "labels":
                labels = tuple((ch.to_string or "").split())
            elif ch.field == "assignee":
                assignee = ch.to_value
            elif ch.field == "priority":
                priority = ch.to_value
            elif ch.field == "Key":
                key = ch.to_string or key
                project_key = key.rsplit("-", 1)[0]
    return JiraIssueState(
        status,
        priority,
        labels,
        assignee,
        resolution_ms,
        updated,
        status_change,
        tuple(histories),
        comments,
        key=key,
        project_key=project_key,
    )


# Every event of an issue lies within this span after its creation (status flows end within ~40 days, moves
# within 20): a JQL `updated >= X` only needs the issues created after X - MAX_ISSUE_LIFETIME.
MAX_ISSUE_LIFETIME = 60 * DAY


@dataclass(frozen=True)
class IssueSkeleton:
    """What is known of issue n without building it: enough to find, count and order issues cheaply."""

    created_ms: int
    project: JiraProject
    key: str
    scenario: str | None
    move: tuple[int, JiraProject, JiraProject, str] | None  # (when, from, to, new key)
    deleted_ms: int | None
    jitter_ms: int | None  # bulk scales: the creation jitter, fixed here so created_ms is known unbuilt

    @property
    def exact_created_ms(self) -> int | None:
        return None if self.jitter_ms is None else self.created_ms + self.jitter_ms

    def key_at(self, now_ms: int) -> str:
        return self.move[3] if self.move is not None and self.move[0] <= now_ms else self.key

    def exists(self, now_ms: int) -> bool:
        return self.created_ms <= now_ms and (self.deleted_ms is None or now_ms < self.deleted_ms)


class FinalSummary(NamedTuple):
    last_event_ms: int
    issuetype_id: str
    reporter: int
    summary: str
    status_id: str
    priority_id: str | None
    labels: tuple[str, ...]
    assignee: str | None
    resolution_ms: int | None
    updated_ms: int
    status_change_ms: int
    comments: int

    @property
    def category(self) -> str:
        return STATUSES[self.status_id].category


@dataclass
class JiraData:
    """The site: projects and issues built from their skeleton on demand (all at start-up on small scales,
    lazily with a bounded cache on bulk ones)."""

    user_time_zone: str
    people: tuple[Person, ...]
    projects: tuple[JiraProject, ...]
    skeleton: tuple[IssueSkeleton, ...]
    anchor_ms: int = 0
    seed: int = 0
    lazy: bool = False
    noisy_share: float = 0.04

    def __post_init__(self) -> None:
        self.project = {p.key: p for p in self.projects}
        self.person_by_account = {p.jira_account_id: p for p in self.people}
        self._account_index = {p.jira_account_id: p.index for p in self.people}
        # Jira redirects a moved issue's former keys to it.
        self.n_by_key: dict[str, int] = {}
        for n, sk in enumerate(self.skeleton):
            self.n_by_key[sk.key] = n
            if sk.move is not None:
                self.n_by_key[sk.move[3]] = n
        self.created = [sk.created_ms for sk in self.skeleton]
        # Compact final state of every issue built once (what JQL filters and sorts on), valid from its last
        # event on: later searches need not build issues whose history is complete.
        self.final: dict[int, FinalSummary] = {}
        self.issues: LazyRecords[JiraIssue] = LazyRecords(len(self.skeleton), self._build,
                                                          keep=5_000 if self.lazy else None, on_build=self._summarize)
        if not self.lazy:
            self.issues.warm()
        self.by_id = _IdLookup(self)
        self.by_key = _KeyLookup(self)
        self._views = ViewCache(self._compute_views)

    def _build(self, n: int) -> JiraIssue:
        sk = self.skeleton[n]
        issue = _build_issue(self.seed, n, sk.key, sk.project, sk.created_ms, sk.scenario, self.people,
                             self.anchor_ms, sk.move, sk.deleted_ms, jitter_ms=sk.jitter_ms,
                             noisy_share=self.noisy_share, account_index=self._account_index)
        assert not issue.events or issue.events[-1].at_ms - issue.created_ms <= MAX_ISSUE_LIFETIME, issue.key
        return issue

    def _summarize(self, issue: JiraIssue) -> None:
        last = issue.events[-1].at_ms if issue.events else issue.created_ms
        st = issue_state(issue, last)
        assert st is not None
        self.final[issue.n] = FinalSummary(
            last, issue.issuetype_id, issue.reporter, issue.summary, st.status_id, st.priority_id, st.labels,
            st.assignee, st.resolution_ms, st.updated_ms, st.status_change_ms, st.comments)

    def _compute_views(self, now_ms: int) -> list[tuple[JiraIssue, JiraIssueState]]:
        out = []
        for n, sk in enumerate(self.skeleton):
            if sk.created_ms > now_ms:
                break
            issue = self.issues.get(n)
            if not issue.exists(now_ms):
                continue
            state = issue_state(issue, now_ms)
            if state is not None:
                out.append((issue, state))
        return out

    def views(self, now_ms: int) -> list[tuple[JiraIssue, JiraIssueState]]:
        """Issues that exist at now_ms (created, not deleted) with their fields, in creation (= id) order. Builds
        every issue: for tests and small scales; JQL search narrows the candidates first (jira.py)."""
        return self._views.get(now_ms)

    def status_name(self, status_id: str, at_ms: int) -> str:
        """A status's name at an instant (names change when an admin renames a status; ids never do)."""
        return status_name_at(status_id, at_ms, self.anchor_ms)


class _IdLookup:
    """`data.by_id.get("10042")`: issue ids are 10001 + n."""

    def __init__(self, data: JiraData) -> None:
        self._data = data

    def get(self, ident: str, default: JiraIssue | None = None) -> JiraIssue | None:
        if not ident.isdigit() or not 0 <= int(ident) - 10001 < len(self._data.skeleton):
            return default
        return self._data.issues.get(int(ident) - 10001)


class _KeyLookup:
    def __init__(self, data: JiraData) -> None:
        self._data = data

    def get(self, key: str, default: JiraIssue | None = None) -> JiraIssue | None:
        n = self._data.n_by_key.get(key)
        return default if n is None else self._data.issues.get(n)


def status_name_at(status_id: str, at_ms: int, anchor_ms: int) -> str:
    renamed = STATUS_RENAMES.get(status_id)
    if renamed is not None and at_ms >= anchor_ms + renamed[0]:
        return renamed[1]
    return STATUSES[status_id].name


# --- timelines ---------------------------------------------------------------------------------------------


def _status_flow(r: random.Random, created: int) -> list[tuple[int, str]]:
    """(time, new status) transitions for an ordinary issue."""
    roll = r.random()
    if roll < 0.10:
        return []  # backlog that nobody touches
    if roll < 0.15:
        return [(created + pick_duration(r, [(1.0, DAY, 20 * DAY)]), WONT_DO)]
    t = created + pick_duration(r, [(0.5, 30 * MINUTE, DAY), (0.35, DAY, 5 * DAY), (0.15, 5 * DAY, 15 * DAY)])
    flow = [(t, IN_PROGRESS)]
    t += pick_duration(r, [(0.4, HOUR, DAY), (0.4, DAY, 5 * DAY), (0.2, 5 * DAY, 12 * DAY)])
    if r.random() < 0.6:
        flow.append((t, IN_REVIEW))
        t += pick_duration(r, [(1.0, HOUR, 3 * DAY)])
    flow.append((t, DONE))
    if r.random() < 0.08:
        t += pick_duration(r, [(1.0, DAY, 6 * DAY)])
        flow.append((t, IN_PROGRESS))
        t += pick_duration(r, [(1.0, 2 * HOUR, 3 * DAY)])
        flow.append((t, DONE))
    return flow


def _planted_flow(scenario: str, created: int, anchor: int) -> list[tuple[int, str]]:
    return {
        "finishes_soon": [(anchor - 3 * DAY, IN_PROGRESS), (anchor + 10 * HOUR, DONE)],
        "reopened": [
            (anchor - 19 * DAY, IN_PROGRESS),
            (anchor - 10 * DAY, DONE),
            (anchor - 6 * DAY, IN_PROGRESS),
            (anchor - 2 * DAY, DONE),
        ],
        "noisy": [(anchor - 29 * DAY, IN_PROGRESS), (anchor - 3 * DAY, DONE)],
        "no_priority": [(anchor - 7 * DAY, IN_PROGRESS)],
        # Through "In Review" before the status is renamed "Code Review" (anchor - 40 d), and again after.
        "renamed_review": [
            (anchor - 50 * DAY, IN_PROGRESS),
            (anchor - 45 * DAY, IN_REVIEW),
            (anchor - 35 * DAY, IN_PROGRESS),
            (anchor - 30 * DAY, IN_REVIEW),
            (anchor - 28 * DAY, DONE),
        ],
        "very_noisy": [(anchor - 25 * DAY, IN_PROGRESS), (anchor - DAY, DONE)],
        "moved": [(anchor - 12 * DAY, IN_PROGRESS), (anchor - 4 * DAY, DONE)],
        "deleted": [(anchor - 6 * DAY, IN_PROGRESS)],
        "straight_to_done": [(anchor - 3 * DAY, DONE)],  # never in an `indeterminate` status
    }.get(scenario, [])


def _status_change(frm: str, to: str, at: int, anchor: int) -> tuple[JiraChange, ...]:
    changes = [
        JiraChange(
            "status",
            "jira",
            "status",
            frm,
            status_name_at(frm, at, anchor),
            to,
            status_name_at(to, at, anchor),
        )
    ]
    if to in RESOLUTIONS and frm not in RESOLUTIONS:
        rid, rname = RESOLUTIONS[to]
        changes.append(JiraChange("resolution", "jira", "resolution", None, None, rid, rname))
    elif frm in RESOLUTIONS and to not in RESOLUTIONS:
        rid, rname = RESOLUTIONS[frm]
        changes.append(JiraChange("resolution", "jira", "resolution", rid, rname, None, None))
    return tuple(changes)


def _build_issue(
    seed: int,
    n: int,
    key: str,
    project: JiraProject,
    created: int,
    scenario: str | None,
    people: tuple[Person, ...],
    anchor: int,
    move: tuple[int, JiraProject, JiraProject, str] | None = None,
    deleted_ms: int | None = None,
    jitter_ms: int | None = None,
    noisy_share: float = 0.04,
    account_index: dict[str, int] | None = None,
) -> JiraIssue:
    """`move` = (when, from project, to project, new key): the issue changes project and key, keeps its id.
    `jitter_ms` (bulk scales) fixes the sub-second creation jitter instead of drawing it."""
    r = rng(seed, "jira-issue", n)
    issuetype = weighted(r, [(0.35, "10004"), (0.30, "10001"), (0.25, "10002"), (0.10, "10005")])
    priority = (
        None
        if r.random() < 0.15
        else weighted(r, [(0.05, "1"), (0.2, "2"), (0.5, "3"), (0.2, "4"), (0.05, "5")])
    )
    if scenario == "no_priority":
        priority = None
    labels = tuple(sorted(r.sample(LABELS, r.choice((0, 1, 1, 2)))))
    assignee = None if r.random() < 0.2 else people[r.randrange(len(people))].jira_account_id
    reporter = r.randrange(len(people))
    summary = r.choice(_SUMMARIES[issuetype]).format(sys=r.choice(_SYSTEMS))
    drawn = r.randint(0, 999)
    created += drawn if jitter_ms is None else jitter_ms

    flow = _planted_flow(scenario, created, anchor) if scenario else _status_flow(r, created)
    flow = [(t + r.randint(0, 999), s) for t, s in flow]
    raw: list[tuple[int, str, object]] = [(t, "status", s) for t, s in flow]
    horizon = flow[-1][0] if flow else created + 14 * DAY
    for _ in range(r.choice((0, 0, 1, 1, 2, 3))):
        kind = weighted(r, [(0.4, "comment"), (0.25, "labels"), (0.2, "assignee"), (0.15, "priority")])
        raw.append((r.randint(created + MINUTE, max(created + MINUTE, horizon)), kind, None))
    if scenario == "noisy" or (scenario is None and r.random() < noisy_share):
        for _ in range(r.randint(25, 45)):
            raw.append((r.randint(created + MINUTE, max(created + 2 * MINUTE, horizon)), "rank", None))
    # Hundreds of entries: several pages of `/issue/{key}/changelog` (ids stay below the next issue's range).
    huge = rng(seed, "jira-huge", n)
    if scenario == "very_noisy" or (scenario is None and huge.random() < 0.01):
        for _ in range(huge.randint(230, 330)):
            raw.append((huge.randint(created + MINUTE, max(created + 2 * MINUTE, horizon)), "rank", None))
    if move is not None:
        raw.append((move[0], "move", move))
    raw.sort(key=lambda x: x[0])

    events = []
    status, cur_labels, cur_assignee, cur_priority = TODO, labels, assignee, priority
    account_index = account_index or {p.jira_account_id: p.index for p in people}
    for k, (at, kind, value) in enumerate(raw):
        author = account_index[cur_assignee] if cur_assignee is not None else reporter
        history_id: str | None = str(100000 + n * 400 + k)
        if kind == "status":
            changes = _status_change(status, value, at, anchor)  # type: ignore[arg-type]
            status = value  # type: ignore[assignment]
        elif kind == "move":
            _, src, dst, new_key = value  # type: ignore[misc]
            changes = (
                JiraChange("project", "jira", "project", src.id, src.name, dst.id, dst.name),
                JiraChange("Key", "jira", "issuekey", None, key, None, new_key),
            )
        elif kind == "labels":
            new = tuple(sorted(set(cur_labels) ^ {r.choice(LABELS)}))
            changes = (
                JiraChange("labels", "jira", "labels", None, " ".join(cur_labels), None, " ".join(new)),
            )
            cur_labels = new
        elif kind == "assignee":
            new_a = people[r.randrange(len(people))]
            old = None if cur_assignee is None else people[account_index[cur_assignee]]
            changes = (
                JiraChange(
                    "assignee",
                    "jira",
                    "assignee",
                    old and old.jira_account_id,
                    old and old.name,
                    new_a.jira_account_id,
                    new_a.name,
                ),
            )
            cur_assignee, author = new_a.jira_account_id, new_a.index
        elif kind == "priority":
            new_p = r.choice(sorted(PRIORITIES))
            changes = (
                JiraChange(
                    "priority",
                    "jira",
                    "priority",
                    cur_priority,
                    PRIORITIES.get(cur_priority or "", None),
                    new_p,
                    PRIORITIES[new_p],
                ),
            )
            cur_priority = new_p
        elif kind == "rank":
            changes = (
                JiraChange(
                    "Rank",
                    "custom",
                    "customfield_10019",
                    None,
                    "",
                    None,
                    r.choice(("Ranked higher", "Ranked lower")),
                ),
            )
        else:
            changes, history_id = (), None
        events.append(JiraEvent(at, author, changes, history_id))
    return JiraIssue(
        n=n,
        id=str(10001 + n),
        key=key,
        project_key=project.key,
        issuetype_id=issuetype,
        summary=summary,
        created_ms=created,
        reporter=reporter,
        priority_id=priority,
        labels=labels,
        assignee=assignee,
        events=tuple(events),
        scenario=scenario,
        deleted_ms=deleted_ms,
        keys=(key, move[3]) if move is not None else (),
    )


def build_jira(
    seed: int, window: Window, scale: Scale, people: tuple[Person, ...], user_time_zone: str
) -> JiraData:
    def key_and_name(i: int) -> tuple[str, str]:
        """OPS, WEB, PAY, then OPS2, WEB2, PAY2…: project keys are unique (Jira refuses a duplicate key)."""
        key, name = _PROJECTS[i % len(_PROJECTS)][:2]
        round_ = i // len(_PROJECTS) + 1
        return (key, name) if round_ == 1 else (f"{key}{round_}", f"{name} {round_}")

    projects = tuple(
        JiraProject(
            str(10000 + i),
            *key_and_name(i),
            lead=i % len(people),
            weight=_PROJECTS[i % len(_PROJECTS)][2],
        )
        for i in range(scale.jira_projects)
    )
    arr = rng(seed, "jira", "arrivals")
    skeleton: list[tuple[int, int, JiraProject, str | None]] = []
    options = [(p.weight, p) for p in projects]
    pick = Picker(options) if scale.lazy else (lambda r: weighted(r, options))
    for t in arrivals(arr, window.start_ms, window.end_ms, scale.issues_per_day):
        skeleton.append((t, len(skeleton), pick(arr), None))
    a = window.anchor_ms
    for offset, scenario in (
        (-30 * DAY, "noisy"),
        (-20 * DAY, "reopened"),
        (-8 * DAY, "no_priority"),
        (-5 * DAY, "finishes_soon"),
        (6 * HOUR, "future"),
        (-55 * DAY, "renamed_review"),
        (-26 * DAY, "very_noisy"),
        (-14 * DAY, "moved"),
        (-9 * DAY, "deleted"),
        (-4 * DAY, "straight_to_done"),
    ):
        skeleton.append((a + offset, len(skeleton), projects[0], scenario))
    skeleton.sort(key=lambda s: (s[0], s[1]))

    # Moves and deletions first: a move takes the next number of its target project at its time. Bulk scales
    # decide with a cheap hash which records move or vanish, and draw the details only for those.
    lazy = scale.lazy
    fate = rng(seed, "jira", "fate")  # bulk scales: one cheap stream decides which records move, vanish, jitter
    moves: dict[int, tuple[int, JiraProject]] = {}
    deletions: dict[int, int] = {}
    others_of = {p.key: [o for o in projects if o.key != p.key] for p in projects}
    for n, (at, _, project, scenario) in enumerate(skeleton):
        others = others_of[project.key]
        if others and scenario == "moved":
            moves[n] = (a - 10 * DAY, others[0])
        elif others and scenario is None and (not lazy or fate.random() < 0.03):
            chance = rng(seed, "jira-move", n)
            if chance.random() < 0.03 or lazy:
                moves[n] = (at + pick_duration(chance, [(1.0, HOUR, 20 * DAY)]), chance.choice(others))
        if scenario == "deleted":
            deletions[n] = a + 12 * HOUR  # seen by a first run, gone after `advance {"days": 1}`
        elif scenario is None and (not lazy or fate.random() < 0.02):
            gone = rng(seed, "jira-delete", n)
            if gone.random() < 0.02 or lazy:
                deletions[n] = at + pick_duration(gone, [(1.0, HOUR, 30 * DAY)])

    numbering = rng(seed, "jira", "numbering")
    counters = {p.key: numbering.randint(40, 900) for p in projects}
    keys: dict[tuple[int, str], str] = {}
    allocations = [(at, n, "create", project) for n, (at, _, project, _) in enumerate(skeleton)]
    allocations += [(at, n, "move", target) for n, (at, target) in moves.items()]
    for _, n, kind, project in sorted(allocations, key=itemgetter(0, 1, 2)):
        counters[project.key] += 1
        keys[(n, kind)] = f"{project.key}-{counters[project.key]}"

    frame = []
    for n, (at, _, project, scenario) in enumerate(skeleton):
        move = None
        if n in moves:
            move = (moves[n][0], project, moves[n][1], keys[(n, "move")])
        jitter = int(fate.random() * 1000) if lazy else None
        frame.append(IssueSkeleton(at, project, keys[(n, "create")], scenario, move, deletions.get(n), jitter))
    return JiraData(user_time_zone=user_time_zone, people=people, projects=projects, skeleton=tuple(frame),
                    anchor_ms=a, seed=seed, lazy=lazy, noisy_share=scale.jira_noisy_share)
