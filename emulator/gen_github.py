"""Deterministic GitHub organisation: repositories and pull requests with their activity timelines.

A pull request is its creation, a list of "touches" (pushes, reviews, comments; each moves `updated_at`) and
an optional close (merged or not). The state at the clock is folded from those, so a PR merged after the clock
is shown open, and merging moves `updated_at`, exactly what an incremental `sort=updated` extractor must
handle."""

from __future__ import annotations

import random
from dataclasses import dataclass

from emulator.gen_links import JiraKeys, link_pull
from emulator.ids import located_node_id, rng, sha, small_int
from emulator.timefmt import DAY, HOUR, MINUTE, SECOND, floor_day, to_datetime
from emulator.timeline import Person, Scale, ViewCache, Window, arrivals, pick_duration, weighted

ORG_LOGIN = "acme"

_REPOS = (
    ("api", "Public REST API and webhooks", "Python", 0.40),
    ("web", "Customer web app", "TypeScript", 0.30),
    ("infra", "Terraform modules and Kubernetes manifests", "HCL", 0.15),
    ("mobile", "iOS and Android apps", "Kotlin", 0.15),
)

# Not every repository's default branch is `main`: workflow runs do not say which it is, so a client must ask.
_DEFAULT_BRANCHES = {"infra": "trunk", "mobile": "master"}

LABELS = {  # name -> (color, description, default)
    "bug": ("d73a4a", "Something isn't working", True),
    "enhancement": ("a2eeef", "New feature or request", True),
    "documentation": ("0075ca", "Improvements or additions to documentation", True),
    "dependencies": ("0366d6", "Pull requests that update a dependency file", False),
    "hotfix": ("b60205", "Emergency fix shipped outside the release train", False),
    "needs-review": ("fbca04", "Waiting for a second reviewer", False),
}

_FEATURE_TITLES = (
    "Add retry with jitter to webhook delivery",
    "Cache exchange rates for 5 minutes",
    "Paginate /v2/orders with cursors",
    "Support idempotency keys on refunds",
    "Migrate CI to reusable workflows",
    "Add p99 latency panel to the checkout dashboard",
    "Unterstützung für SEPA-Lastschrift",
    "Handle “smart quotes” in search queries",
    "Emoji in display names 🎉 no longer break CSV exports",
    "Render <b>bold</b> & <i>italic</i> in release notes safely",
)
_FIX_TITLES = (
    "Fix race in session refresh",
    "Fix flaky test_checkout_timeout",
    "Fix N+1 query on the invoices page",
    "Fix timezone bug in the daily report (DST)",
    "Fix crash when a webhook payload has no 'id'",
)
_BUMPS = (
    ("requests", "2.31.0", "2.32.3"),
    ("urllib3", "2.2.1", "2.2.3"),
    ("eslint", "8.57.0", "9.12.0"),
    ("terraform-provider-aws", "5.70.0", "5.74.0"),
    ("kotlinx-coroutines", "1.8.1", "1.9.0"),
)

DEPENDABOT = Person(
    index=-1,
    name="dependabot[bot]",
    email="",
    login="dependabot[bot]",
    github_id=49699333,
    jira_account_id="",
    pagerduty_id="",
    time_zone="UTC",
)


@dataclass(frozen=True)
class GhRepo:
    index: int
    id: int
    name: str
    description: str
    language: str
    weight: float
    default_branch: str
    created_ms: int

    @property
    def full_name(self) -> str:
        return f"{ORG_LOGIN}/{self.name}"


@dataclass(frozen=True)
class GhPull:
    n: int
    repo_index: int
    number: int
    id: int
    node_id: str
    title: str
    body: str | None
    author: Person
    labels: tuple[str, ...]
    base_ref: str
    head_ref: str
    head_repo_deleted: bool
    draft_until_ms: int | None  # draft until this moment (None: never a draft)
    created_ms: int
    touches: tuple[tuple[int, str], ...]  # (time, push|review|comment), sorted
    close_ms: int | None
    merged: bool
    merge_method: str
    merged_by: Person | None
    reviewers: tuple[Person, ...]
    comments: int
    review_comments: int
    additions: int
    deletions: int
    changed_files: int
    scenario: str | None = None
    commit_key: str | None = None  # a Jira key written only in the first commit's message (gen_links)


@dataclass(frozen=True)
class GhPullState:
    state: str
    updated_ms: int
    closed_ms: int | None
    merged_ms: int | None
    draft: bool
    pushes: int
    comments: int

    @property
    def merged(self) -> bool:
        return self.merged_ms is not None


def pull_state(pull: GhPull, now_ms: int) -> GhPullState | None:
    if pull.created_ms > now_ms:
        return None
    updated = pull.created_ms
    pushes = comments = 0
    for at, kind in pull.touches:
        if at > now_ms:
            break
        updated = max(updated, at)
        pushes += kind == "push"
        comments += kind == "comment"
    closed = pull.close_ms if pull.close_ms is not None and pull.close_ms <= now_ms else None
    if closed is not None:
        updated = max(updated, closed)
    draft = pull.draft_until_ms is not None and now_ms < pull.draft_until_ms
    return GhPullState(
        state="closed" if closed is not None else "open",
        updated_ms=updated,
        closed_ms=closed,
        merged_ms=closed if closed is not None and pull.merged else None,
        draft=draft,
        pushes=pushes,
        comments=comments,
    )


def head_sha(seed: int, pull: GhPull, state: GhPullState) -> str:
    return sha(seed, "pr-head", pull.n, state.pushes)


def merge_commit_sha(seed: int, pull: GhPull, state: GhPullState) -> str:
    if state.merged:
        return sha(seed, "pr-merge", pull.n)
    return sha(seed, "pr-test-merge", pull.n, state.pushes)


@dataclass
class GitHubData:
    org_id: int
    org_created_ms: int
    people: tuple[Person, ...]
    repos: tuple[GhRepo, ...]
    pulls: tuple[GhPull, ...]
    seed: int = 0
    deployments: tuple[GhDeployment, ...] = ()
    releases: tuple[GhRelease, ...] = ()
    runs: tuple[GhRun, ...] = ()
    huge_pull_n: int | None = None  # the pull request with more commits than the 250 the API lists

    def __post_init__(self) -> None:
        self.repo_by_name = {r.name.lower(): r for r in self.repos}
        self.repo_by_id = {r.id: r for r in self.repos}
        self.pulls_by_repo: dict[int, list[GhPull]] = {r.index: [] for r in self.repos}
        for p in self.pulls:
            self.pulls_by_repo[p.repo_index].append(p)
        self.pull_by_number = {(p.repo_index, p.number): p for p in self.pulls}
        self._views = ViewCache(self._compute_views)
        self.deployments_by_repo: dict[int, list[GhDeployment]] = {r.index: [] for r in self.repos}
        for d in self.deployments:
            self.deployments_by_repo[d.repo_index].append(d)
        self.deployment_by_id = {d.id: d for d in self.deployments}
        self.releases_by_repo: dict[int, list[GhRelease]] = {r.index: [] for r in self.repos}
        for rel in self.releases:
            self.releases_by_repo[rel.repo_index].append(rel)
        self.runs_by_repo: dict[int, list[GhRun]] = {r.index: [] for r in self.repos}
        for run in self.runs:
            self.runs_by_repo[run.repo_index].append(run)
        self._commits: dict[int, tuple[GhCommit, ...]] = {}

    def commits(self, pull: GhPull) -> tuple[GhCommit, ...]:
        """Every commit ever pushed to the pull request's branch, oldest first (see `pull_commits`)."""
        if pull.n not in self._commits:
            self._commits[pull.n] = pull_commits(self.seed, pull, huge=pull.n == self.huge_pull_n)
        return self._commits[pull.n]

    def _compute_views(self, now_ms: int) -> dict[int, list[tuple[GhPull, GhPullState]]]:
        out: dict[int, list[tuple[GhPull, GhPullState]]] = {r.index: [] for r in self.repos}
        for pull in self.pulls:
            state = pull_state(pull, now_ms)
            if state is not None:
                out[pull.repo_index].append((pull, state))
        return out

    def views(self, now_ms: int, repo: GhRepo) -> list[tuple[GhPull, GhPullState]]:
        """The repo's pull requests that exist at now_ms, in creation order."""
        return self._views.get(now_ms)[repo.index]


def _title(r: random.Random, kind: str) -> str:
    if kind == "fix":
        return r.choice(_FIX_TITLES)
    if kind == "bump":
        name, old, new = r.choice(_BUMPS)
        return f"Bump {name} from {old} to {new}"
    return r.choice(_FEATURE_TITLES)


def _build_pull(
    seed: int,
    n: int,
    repo: GhRepo,
    number: int,
    created: int,
    scenario: str | None,
    people: tuple[Person, ...],
    previous: list[GhPull],
    anchor: int,
) -> GhPull:
    r = rng(seed, "pull", n)
    kind = weighted(
        r,
        [
            (0.55, "feature"),
            (0.25, "fix"),
            (0.08, "bump"),
            (0.06, "hotfix"),
            (0.04, "revert"),
            (0.02, "docs"),
        ],
    )
    if scenario in ("hotfix", "revert"):
        kind = scenario
    if kind == "revert" and not previous:
        kind = "fix"
    author = DEPENDABOT if kind == "bump" else people[r.randrange(len(people))]
    labels: tuple[str, ...] = ()
    body: str | None = r.choice(
        (
            None,
            "",
            "Closes #{0}.",
            "Part of the Q4 reliability work.\n\n- [x] tests",
            "Fixes a regression from #{0} — see the incident notes.",
        )
    )
    if kind == "hotfix":
        title = "Hotfix: " + r.choice(_FIX_TITLES)
        labels = ("hotfix",)
    elif kind == "revert":
        target = previous[-r.randint(1, min(8, len(previous)))] if scenario is None else previous[-1]
        title = f'Revert "{target.title}"'
        body = f"Reverts {repo.full_name}#{target.number}"
    elif kind == "bump":
        title, labels = _title(r, "bump"), ("dependencies",)
        body = "Bumps the dependency. Dependabot will resolve any conflicts with this PR."
    elif kind == "docs":
        title, labels = "Docs: update the on-call runbook", ("documentation",)
    else:
        title = _title(r, kind)
        labels = tuple(
            sorted(
                {"bug" if kind == "fix" else "enhancement"}
                | ({"needs-review"} if r.random() < 0.1 else set())
            )
        )
    if body and "{0}" in body:
        body = body.format(max(1, number - r.randint(1, 40)))

    outcome = weighted(r, [(0.74, "merged"), (0.12, "closed"), (0.06, "open"), (0.08, "slow")])
    if kind in ("hotfix", "revert"):
        life = pick_duration(r, [(1.0, 10 * MINUTE, 90 * MINUTE)])
        outcome = "merged"
    elif outcome == "slow":
        life, outcome = pick_duration(r, [(1.0, 8 * DAY, 40 * DAY)]), "merged"
    else:
        life = pick_duration(
            r, [(0.4, 30 * MINUTE, 6 * HOUR), (0.35, 6 * HOUR, 2 * DAY), (0.25, 2 * DAY, 7 * DAY)]
        )
    close: int | None = created + life // SECOND * SECOND
    if outcome == "open":
        close = None
    planted = {
        "merge_soon": (anchor + 6 * HOUR, "merged"),
        "revert": (created + 40 * MINUTE, "merged"),
        "hotfix": (created + 50 * MINUTE, "merged"),
        "closed_unmerged": (anchor - 5 * DAY, "closed"),
        "long_open": (None, "open"),
    }
    if scenario in planted:
        close, outcome = planted[scenario]
    merged = outcome == "merged"

    touches = []
    end = close if close is not None else max(created + 30 * DAY, anchor + 10 * DAY)
    for _ in range(r.choice((0, 1, 1, 2, 3, 4))):
        touches.append(
            (
                r.randint(created // SECOND + 60, max(created // SECOND + 61, end // SECOND - 30)) * SECOND,
                weighted(r, [(0.5, "push"), (0.3, "review"), (0.2, "comment")]),
            )
        )
    if scenario == "long_open":
        touches.append((anchor - 2 * DAY, "push"))
    if close is not None and r.random() < 0.15:  # late comment: updated_at moves past closed_at
        touches.append((close + pick_duration(r, [(1.0, HOUR, 5 * DAY)]) // SECOND * SECOND, "comment"))
    touches.sort()
    draft_until = None
    if r.random() < 0.08 and kind not in ("hotfix", "revert", "bump"):
        draft_until = created + (close - created) // 2 if close is not None else created + 3 * DAY
    reviewers = tuple(people[i] for i in sorted(r.sample(range(len(people)), r.choice((0, 1, 1, 2)))))
    additions = int(pick_duration(r, [(0.6, 1, 80), (0.3, 80, 600), (0.1, 600, 4000)]))
    return GhPull(
        n=n,
        repo_index=repo.index,
        number=number,
        id=1_800_000_000 + n * 17 + repo.index,
        node_id=located_node_id("PR", repo.index, number),
        title=title,
        body=body,
        author=author,
        labels=labels,
        base_ref=repo.default_branch if r.random() < 0.95 else "release/2026.10",
        head_ref=f"{author.login.split('[')[0]}/{kind}-{number}",
        head_repo_deleted=r.random() < 0.01,
        draft_until_ms=draft_until,
        created_ms=created,
        touches=tuple(touches),
        close_ms=close,
        merged=merged,
        merge_method=weighted(r, [(0.5, "squash"), (0.35, "merge"), (0.15, "rebase")]),
        merged_by=people[r.randrange(len(people))] if merged else None,
        reviewers=reviewers,
        comments=r.choice((0, 0, 1, 2, 3, 5, 8)),
        review_comments=r.choice((0, 0, 1, 2, 4, 9)),
        additions=additions,
        deletions=int(additions * r.uniform(0.05, 0.9)),
        changed_files=max(1, additions // r.randint(15, 60)),
        scenario=scenario,
    )


def build_github(seed: int, window: Window, scale: Scale, people: tuple[Person, ...],
                 jira_keys: JiraKeys | None = None) -> GitHubData:
    """`jira_keys`: the Jira issues pull requests may name (gen_links); None writes no keys."""
    cfg = rng(seed, "github", "config")
    repos = tuple(
        GhRepo(
            index=i,
            id=small_int(600_000_000, 899_999_999, seed, "repo", i),
            name=_REPOS[i % len(_REPOS)][0] + ("" if i < len(_REPOS) else f"-{i // len(_REPOS)}"),
            description=_REPOS[i % len(_REPOS)][1],
            language=_REPOS[i % len(_REPOS)][2],
            weight=_REPOS[i % len(_REPOS)][3],
            default_branch=_DEFAULT_BRANCHES.get(_REPOS[i % len(_REPOS)][0], "main"),
            created_ms=window.start_ms - cfg.randint(300, 2000) * DAY,
        )
        for i in range(scale.gh_repos)
    )
    arr = rng(seed, "github", "arrivals")
    skeleton: list[tuple[int, int, GhRepo, str | None]] = []
    for t in arrivals(arr, window.start_ms, window.end_ms, scale.pulls_per_day):
        skeleton.append((t, len(skeleton), weighted(arr, [(r.weight, r) for r in repos]), None))
    a = window.anchor_ms
    by_name = {r.name: r for r in repos}
    first = repos[0]
    for offset, name, scenario in (
        (-40 * DAY, "mobile", "long_open"),
        (-7 * DAY, "infra", "closed_unmerged"),
        (-3 * DAY, "api", "revert"),
        (-2 * DAY, "web", "hotfix"),
        (-20 * HOUR, "api", "merge_soon"),
        (4 * HOUR, "mobile", "future"),
    ):
        skeleton.append((a + offset, len(skeleton), by_name.get(name, first), scenario))
    skeleton.sort(key=lambda s: (s[0], s[1]))

    numbering = rng(seed, "github", "numbering")
    numbers = {r.index: numbering.randint(100, 2500) for r in repos}
    previous: dict[int, list[GhPull]] = {r.index: [] for r in repos}
    pulls = []
    for n, (at, _, repo, scenario) in enumerate(skeleton):
        numbers[repo.index] += 1 + numbering.choice((0, 0, 0, 1, 1, 2))  # issues share the number sequence
        pull = _build_pull(seed, n, repo, numbers[repo.index], at, scenario, people, previous[repo.index], a)
        if jira_keys is not None:  # before anything derives from it (reverts' titles, CI runs' branches)
            pull = link_pull(seed, pull, jira_keys)
        previous[repo.index].append(pull)
        pulls.append(pull)
    deployments = build_deployments(seed, window, repos, pulls, people)
    return GitHubData(
        org_id=small_int(10_000_000, 99_999_999, seed, "org"),
        org_created_ms=window.start_ms - 2500 * DAY,
        people=people,
        repos=repos,
        pulls=tuple(pulls),
        seed=seed,
        deployments=deployments,
        releases=build_releases(seed, window, repos, deployments, people),
        runs=build_runs(seed, window, repos, pulls, people),
        huge_pull_n=_pick_huge_pull(window, repos, pulls),
    )


# --- DORA sources: PR commits, deployments and their statuses, releases, Actions workflow runs ---------------
#
# Everything below draws from its own random streams (`rng(seed, "<kind>", n)`), so the pull requests above are
# byte-identical to what they were before these endpoints existed.

# Who owns each repository and which PagerDuty services (by name, see gen_pagerduty._SERVICES) its deployments can
# break. Repositories beyond the four base ones ("api-1"…) inherit their base's mapping. Also served as the
# repository's `custom_properties`, so a client can read the mapping from the API.
REPO_TEAMS = {"api": "platform", "web": "growth", "infra": "platform", "mobile": "payments"}
REPO_SERVICES = {
    "api": ("api-gateway", "auth-service"),
    "web": ("web-frontend",),
    "mobile": ("checkout-api",),
    "infra": ("api-gateway",),
}
# Production environment name per repository: the DORA default list is [production, prod], matched
# case-insensitively, so "Production" must count too.
PRODUCTION_ENV = {"api": "production", "web": "Production", "mobile": "production", "infra": "production"}
STAGING_ENV = {"api": "staging", "web": "staging", "mobile": "beta", "infra": "staging"}

# Deploy trains (UTC minutes after midnight, weekdays only) per repository kind.
_TRAINS = {"api": (11 * 60, 15 * 60), "web": (15 * 60,)}
MOBILE_EVERY_DAYS = 14
PULL_COMMITS_CAP = 250


def repo_kind(repo: GhRepo) -> str:
    return repo.name.split("-")[0]


@dataclass(frozen=True)
class GhCommit:
    sha: str
    author: Person
    authored_ms: int  # the author's clock: may be skewed, even after the merge
    committed_ms: int
    visible_ms: int  # when it was pushed to the pull request
    message: str
    author_linked: bool  # False: the author's e-mail matches no GitHub account (`author: null`)


@dataclass(frozen=True)
class GhDeployment:
    n: int
    repo_index: int
    id: int
    sha: str
    ref: str
    environment: str
    production: bool
    created_ms: int
    creator: Person
    description: str
    statuses: tuple[tuple[int, int, str], ...]  # (id, at, state) oldest first; may lie after the clock
    scenario: str | None = None

    @property
    def node_id(self) -> str:
        return located_node_id("DE", self.repo_index, self.id)


@dataclass(frozen=True)
class GhRelease:
    n: int
    repo_index: int
    id: int
    tag: str
    name: str
    target: str
    created_ms: int
    published_ms: int  # a draft until then
    prerelease: bool
    author: Person


@dataclass(frozen=True)
class GhWorkflow:
    id: int
    name: str
    path: str


@dataclass(frozen=True)
class GhRun:
    n: int
    repo_index: int
    id: int
    workflow: GhWorkflow
    run_number: int
    event: str
    head_branch: str
    head_sha: str
    title: str
    actor: Person
    attempts: tuple[tuple[int, int, str], ...]  # (started, completed, conclusion) per attempt, oldest first
    pull_number: int | None = None
    scenario: str | None = None

    @property
    def created_ms(self) -> int:
        return self.attempts[0][0]


@dataclass(frozen=True)
class GhRunState:
    attempt: int
    started_ms: int
    updated_ms: int
    status: str
    conclusion: str | None


def run_state(run: GhRun, now_ms: int) -> GhRunState | None:
    visible = [a for a in run.attempts if a[0] <= now_ms]
    if not visible:
        return None
    started, completed, conclusion = visible[-1]
    if completed <= now_ms:
        return GhRunState(len(visible), started, completed, "completed", conclusion)
    return GhRunState(len(visible), started, started, "in_progress", None)


def deployment_statuses(deployment: GhDeployment, now_ms: int) -> list[tuple[int, int, str]]:
    return [s for s in deployment.statuses if s[1] <= now_ms]


def pull_commits(seed: int, pull: GhPull, huge: bool = False) -> tuple[GhCommit, ...]:
    """The branch's commits, oldest first: some before the PR was opened, more with each push.

    A few authors' clocks are off by hours (author dates after the merge); the planted hotfix always is.
    """
    r = rng(seed, "pull-commits", pull.n)
    skew = 0
    if pull.scenario == "hotfix":
        skew = 3 * HOUR + r.randint(0, 1800) * SECOND
    elif r.random() < 0.03:
        skew = r.choice((-1, 1)) * r.randint(2, 30) * HOUR
    first = pull.created_ms - pick_duration(r, [(0.5, 5 * MINUTE, 3 * HOUR), (0.35, 3 * HOUR, 2 * DAY),
                                                (0.15, 2 * DAY, 12 * DAY)]) // SECOND * SECOND
    if huge:
        first = pull.created_ms - 21 * DAY
    elif pull.scenario == "hotfix":  # written in a hurry, minutes before the PR was opened
        first = pull.created_ms - r.randint(300, 1200) * SECOND
    times = [first]
    initial = 320 if huge else 1 + (r.randint(1, 4) if r.random() < 0.4 and pull.scenario != "hotfix" else 0)
    for _ in range(initial - 1):
        times.append(r.randint(first // SECOND, pull.created_ms // SECOND - 1) * SECOND)
    times.sort()
    planned = [(t, pull.created_ms) for t in times]
    for at, kind in pull.touches:
        if kind != "push":
            continue
        for _ in range(r.choice((1, 1, 1, 2, 3))):
            planned.append((at - r.randint(60, 3600) * SECOND, at))
    out = []
    for k, (authored, visible) in enumerate(planned):
        out.append(
            GhCommit(
                sha=sha(seed, "commit", pull.n, k),
                author=pull.author,
                authored_ms=authored + skew,
                committed_ms=max(authored, visible - 30 * SECOND),
                visible_ms=visible,
                message=(first_commit_message(pull) if k == 0 else r.choice((
                    "Address review comments", "Fix lint", "Add tests", "Update snapshots", "WIP", "Rename variable"))),
                author_linked=pull.author is DEPENDABOT or r.random() > 0.03,
            )
        )
    return tuple(out)


def first_commit_message(pull: GhPull) -> str:
    """The pull request's title, with the Jira key it names only here in front (`OPS-12: Add ...`)."""
    return f"{pull.commit_key}: {pull.title}" if pull.commit_key else pull.title


def visible_commits(commits: tuple[GhCommit, ...], now_ms: int) -> list[GhCommit]:
    return [c for c in commits if c.visible_ms <= now_ms]


def _pick_huge_pull(window: Window, repos: tuple[GhRepo, ...], pulls: list[GhPull]) -> int | None:
    """A long-lived infra branch merged three to four weeks before the start clock: more than 250 commits."""
    def candidates(kinds: tuple[str, ...], earliest: int, latest: int) -> list[GhPull]:
        return [
            p for p in pulls
            if repo_kind(repos[p.repo_index]) in kinds and p.merged and p.close_ms is not None
            and window.anchor_ms - earliest * DAY <= p.close_ms <= window.anchor_ms - latest * DAY
            and p.author is not DEPENDABOT and p.base_ref == repos[p.repo_index].default_branch
        ]

    found = (candidates(("infra",), 30, 20) or candidates(("infra",), 60, 10)
             or candidates(tuple(repo_kind(r) for r in repos), 60, 10))
    return found[0].n if found else None


def _merges(repo: GhRepo, pulls: list[GhPull]) -> list[GhPull]:
    """Pull requests merged into the default branch, in merge order."""
    out = [p for p in pulls if p.repo_index == repo.index and p.merged and p.close_ms is not None
           and p.base_ref == repo.default_branch]
    return sorted(out, key=lambda p: (p.close_ms, p.n))


def _train_times(kind: str, window: Window) -> list[int]:
    """Scheduled production deploy slots: trains on weekdays (api, web), every other Tuesday (mobile) except a
    five-week freeze, none for infra (it deploys through the Deploy workflow)."""
    out = []
    day = floor_day(window.start_ms)
    while day < window.end_ms:
        weekday = to_datetime(day).weekday()
        if kind in _TRAINS and weekday < 5:
            out += [day + minute * MINUTE for minute in _TRAINS[kind]]
        elif kind == "mobile" and weekday == 1 and ((day - floor_day(window.start_ms)) // DAY) % MOBILE_EVERY_DAYS < 7:
            if not _in_mobile_freeze(window, day):
                out.append(day + 11 * HOUR)
        day += DAY
    return out


def _in_mobile_freeze(window: Window, moment: int) -> bool:
    """Five weeks in which mobile ships nothing at all (an app-store review freeze)."""
    return window.anchor_ms - 75 * DAY <= moment < window.anchor_ms - 40 * DAY


def build_deployments(seed: int, window: Window, repos: tuple[GhRepo, ...], pulls: list[GhPull],
                      people: tuple[Person, ...]) -> tuple[GhDeployment, ...]:
    """Staging deployments after every merge; production on trains when something new was merged, right after a
    hotfix merge, and again after a failed attempt. A later successful deployment to the same environment marks
    the previous one `inactive`, as GitHub does."""
    plans: list[dict] = []  # created, repo, env, production, sha, description, scenario
    for repo in repos:
        kind = repo_kind(repo)
        if kind == "infra":
            continue
        merges = _merges(repo, pulls)
        for p in merges:
            r = rng(seed, "staging", p.n)
            plans.append(dict(created=p.close_ms + r.randint(180, 600) * SECOND, repo=repo,
                              env=STAGING_ENV[kind], production=False, sha=sha(seed, "pr-merge", p.n),
                              description=f"Deploy #{p.number} to {STAGING_ENV[kind]}", scenario=None))
        last_deployed = window.start_ms - DAY
        pending = list(merges)
        hotfixes = [p for p in merges if "hotfix" in p.labels]
        slots = [(t, "train") for t in _train_times(kind, window)]
        slots += [(p.close_ms + rng(seed, "hotfix-deploy", p.n).randint(480, 1200) * SECOND, "hotfix")
                  for p in hotfixes
                  if not (kind == "mobile" and _in_mobile_freeze(window, p.close_ms))]  # ship after the freeze
        if kind == "api":
            # Continuous delivery: every merge goes out on its own, plus config rollouts on most weekdays.
            slots += [(p.close_ms + rng(seed, "cd", p.n).randint(1500, 2700) * SECOND, "cd")
                      for p in merges if p not in hotfixes]
            slots += [(t, "config") for t in _train_times("api", window) if rng(seed, "config", t).random() < 0.5]
            slots.append((window.anchor_ms - 8 * HOUR, "late_status"))
        for at, why in sorted(slots):
            new = [p for p in pending if last_deployed < p.close_ms <= at]
            if not new and why == "train":
                continue
            head = max((p for p in merges if p.close_ms <= at), key=lambda p: (p.close_ms, p.n), default=None)
            if head is None:
                continue
            r = rng(seed, "train", repo.index, at)
            created = at + (r.randint(0, 600) * SECOND if why == "train" else 0)
            plans.append(dict(created=created, repo=repo, env=PRODUCTION_ENV[kind], production=True,
                              sha=sha(seed, "pr-merge", head.n),
                              description={"train": "Deploy train", "hotfix": f"Hotfix #{head.number}",
                                           "cd": f"Deploy #{head.number}", "config": "Config rollout",
                                           "late_status": f"Deploy #{head.number}"}[why],
                              scenario="late_status" if why == "late_status" else None))
            last_deployed = at
    plans.sort(key=lambda d: (d["created"], d["repo"].index, d["env"]))

    out: list[GhDeployment] = []
    last_success: dict[tuple[int, str], int] = {}  # (repo, env) -> index in out
    queue = list(plans)
    n = 0
    while queue:
        plan = queue.pop(0)
        r = rng(seed, "deployment", n)
        created = plan["created"]
        outcome = weighted(r, [(0.9, "success"), (0.06, "failure"), (0.04, "error")])
        if plan.get("retry") or plan["scenario"] == "late_status":
            outcome = "success"
        started = created + r.randint(15, 60) * SECOND
        finished = created + r.randint(120, 720) * SECOND
        if plan["scenario"] == "late_status":  # the deploy tool reports back hours later, after the start clock
            finished = window.anchor_ms + 3 * HOUR
        dep_id = 1_900_000_000 + n * 7 + plan["repo"].index
        statuses = [(dep_id * 10 + 1, started, "in_progress"), (dep_id * 10 + 2, finished, outcome)]
        out.append(GhDeployment(
            n=n, repo_index=plan["repo"].index, id=dep_id, sha=plan["sha"], ref="main", environment=plan["env"],
            production=plan["production"], created_ms=created, creator=people[r.randrange(len(people))],
            description=plan["description"], statuses=tuple(statuses), scenario=plan["scenario"],
        ))
        key = (plan["repo"].index, plan["env"])
        if outcome == "success":
            previous = last_success.get(key)
            if previous is not None:
                old = out[previous]
                inactive = max(finished, old.statuses[-1][1] + MINUTE)  # never before its own last report
                out[previous] = GhDeployment(**{**old.__dict__, "statuses": old.statuses + (
                    (old.id * 10 + 3, inactive, "inactive"),)})
            last_success[key] = len(out) - 1
        elif plan["production"]:
            retry = dict(plan, created=finished + r.randint(900, 2400) * SECOND, retry=True,
                         description=plan["description"] + " (retry)", scenario=None)
            queue.append(retry)
            queue.sort(key=lambda d: (d["created"], d["repo"].index, d["env"]))
        n += 1
    return tuple(sorted(out, key=lambda d: (d.created_ms, d.id)))


def build_releases(seed: int, window: Window, repos: tuple[GhRepo, ...], deployments: tuple[GhDeployment, ...],
                   people: tuple[Person, ...]) -> tuple[GhRelease, ...]:
    """api: a weekly release every Monday (every fifth a pre-release) and a draft published a day after the start
    clock; mobile: one release per production deployment, published as it ships."""
    plans = []
    for repo in repos:
        kind = repo_kind(repo)
        if kind == "api":
            day = floor_day(window.start_ms)
            while day < window.end_ms:
                moment = to_datetime(day)
                if moment.weekday() == 0:
                    year, week, _ = moment.isocalendar()
                    plans.append((day + 10 * HOUR, repo, f"v{year}.{week}.0", day + 10 * HOUR + 5 * MINUTE,
                                  week % 5 == 0))
                day += DAY
            plans.append((window.anchor_ms - DAY, repo, "v-next", window.anchor_ms + DAY, False))
        elif kind == "mobile":
            shipped = [d for d in deployments if d.repo_index == repo.index and d.production
                       and d.statuses[-1][2] in ("success", "inactive")]
            for k, d in enumerate(shipped):
                plans.append((d.created_ms - 2 * HOUR, repo, f"mobile-v5.{k}.0", d.created_ms, False))
    plans.sort(key=lambda p: (p[0], p[1].index))
    out = []
    for n, (created, repo, tag, published, pre) in enumerate(plans):
        r = rng(seed, "release", n)
        if tag == "v-next":
            tag = "v2099.1.0"
        out.append(GhRelease(n=n, repo_index=repo.index, id=250_000_000 + n * 11 + repo.index, tag=tag,
                             name=tag + (" (release candidate)" if pre else ""), target="main", created_ms=created,
                             published_ms=published, prerelease=pre, author=people[r.randrange(len(people))]))
    return tuple(out)


WORKFLOWS = {
    "ci": ("CI", ".github/workflows/ci.yml"),
    "deploy": ("Deploy", ".github/workflows/deploy.yml"),
    "drift": ("Drift check", ".github/workflows/drift.yml"),
}


def _workflow(seed: int, repo: GhRepo, key: str) -> GhWorkflow:
    name, path = WORKFLOWS[key]
    return GhWorkflow(small_int(10_000_000, 99_999_999, seed, "workflow", repo.id, key), name, path)


def build_runs(seed: int, window: Window, repos: tuple[GhRepo, ...], pulls: list[GhPull],
               people: tuple[Person, ...]) -> tuple[GhRun, ...]:
    """CI on every PR push and every merge; infra also runs `Deploy` on each merge (re-run when it fails) and an
    hourly `Drift check`, which puts it well past 1,000 runs. One Deploy run, ten days before the start clock,
    fails and is re-run successfully two hours after it: only a re-read of the last 30 days sees that."""
    plans = []  # (created, repo, workflow key, event, branch, head sha, title, pull, scenario)
    for repo in repos:
        for p in pulls:
            if p.repo_index != repo.index:
                continue
            plans.append((p.created_ms + 20 * SECOND, repo, "ci", "pull_request", p.head_ref,
                          sha(seed, "pr-head", p.n, 0), p.title, p, None))
            pushes = 0
            for at, kind in p.touches:
                if kind == "push" and (p.close_ms is None or at <= p.close_ms):
                    pushes += 1
                    plans.append((at + 20 * SECOND, repo, "ci", "pull_request", p.head_ref,
                                  sha(seed, "pr-head", p.n, pushes), p.title, p, None))
        for p in _merges(repo, pulls):
            merge = sha(seed, "pr-merge", p.n)
            plans.append((p.close_ms + 10 * SECOND, repo, "ci", "push", repo.default_branch, merge, p.title,
                          None, None))
            if repo_kind(repo) == "infra":
                plans.append((p.close_ms + 30 * SECOND, repo, "deploy", "push", repo.default_branch, merge, p.title,
                              None, None))
        if repo_kind(repo) == "infra":
            hour = (window.start_ms // HOUR + 1) * HOUR
            while hour < window.end_ms:
                plans.append((hour + 17 * MINUTE, repo, "drift", "schedule", repo.default_branch,
                              sha(seed, "base", repo.index, hour // DAY), "Drift check", None, None))
                hour += HOUR
            plans.append((window.anchor_ms - 10 * DAY, repo, "deploy", "workflow_dispatch", repo.default_branch,
                          sha(seed, "base", repo.index, window.anchor_ms // DAY - 10), "Deploy", None, "rerun_late"))
    plans.sort(key=lambda p: (p[0], p[1].index, p[2]))
    numbers: dict[tuple[int, str], int] = {}
    out = []
    for n, (created, repo, key, event, branch, head, title, pull, scenario) in enumerate(plans):
        r = rng(seed, "run", n)
        duration = {"ci": (180, 900), "deploy": (240, 720), "drift": (45, 180)}[key]
        odds = {"ci": [(0.85, "success"), (0.12, "failure"), (0.03, "cancelled")],
                "deploy": [(0.88, "success"), (0.12, "failure")],
                "drift": [(0.97, "success"), (0.03, "failure")]}[key]
        conclusion = "failure" if scenario == "rerun_late" else weighted(r, odds)
        attempts = [(created, created + r.randint(*duration) * SECOND, conclusion)]
        if scenario == "rerun_late":
            again = window.anchor_ms + 2 * HOUR
            attempts.append((again, again + r.randint(*duration) * SECOND, "success"))
        elif conclusion == "failure" and r.random() < (0.7 if key == "deploy" else 0.3):
            again = attempts[0][1] + pick_duration(r, [(1.0, 10 * MINUTE, 3 * DAY)]) // SECOND * SECOND
            attempts.append((again, again + r.randint(*duration) * SECOND,
                             weighted(r, [(0.75, "success"), (0.25, "failure")])))
        numbers[(repo.index, key)] = numbers.get((repo.index, key), 0) + 1
        out.append(GhRun(
            n=n, repo_index=repo.index, id=11_000_000_000 + n * 13 + repo.index, workflow=_workflow(seed, repo, key),
            run_number=numbers[(repo.index, key)], event=event, head_branch=branch, head_sha=head, title=title,
            actor=(pull.author if pull is not None else people[r.randrange(len(people))]),
            attempts=tuple(attempts), pull_number=pull.number if pull is not None else None, scenario=scenario,
        ))
    return tuple(out)
