"""Deterministic PagerDuty account: teams, users, escalation policies, services and incident timelines.

An incident is its list of log-entry events (trigger, assign, notify, acknowledge, resolve; re-triggers for
reopened incidents). Status, `resolved_at`, `updated_at`, acknowledgements and assignments are folded from the
events visible at the clock, so the incident list and the log entries can never disagree.

Besides natural Poisson arrivals, a few incidents are planted relative to the start clock so every seed has
the cases the availability mart is tested against (open at the clock, reopened, overlapping, spanning
midnight, HTML in the title, new incidents shortly after the start)."""

from __future__ import annotations

import random
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any

from emulator.gen_pagerduty_alerts import PdAlert, build_alerts, human_trigger
from emulator.ids import hex_id, pd_id, rng
from emulator.timefmt import DAY, HOUR, MINUTE, SECOND, floor_day
from emulator.timeline import (
    STRESS_TTR,
    LazyRecords,
    Person,
    Picker,
    Scale,
    ViewCache,
    Window,
    arrivals,
    pick_duration,
    weighted,
)

_TEAMS = (
    ("Platform", "Runs the shared platform: edge gateway, identity and build tooling."),
    ("Payments", "Owns checkout, payment capture, refunds and payouts."),
    ("Growth", "Customer web experience and reporting."),
)

# name, team index, description, share of incidents, share of low urgency, urgency rule
_SERVICES = (
    ("api-gateway", 0, "Edge gateway in front of all public APIs", 0.26, 0.30, "constant"),
    ("auth-service", 0, "Login, sessions and API tokens", 0.16, 0.30, "constant"),
    ("checkout-api", 1, "Checkout and order placement", 0.24, 0.25, "constant"),
    ("payments-worker", 1, "Async capture, refunds & payouts", 0.18, 0.45, "use_support_hours"),
    ("web-frontend", 2, "Customer web app", 0.16, 0.50, "use_support_hours"),
    ("legacy-reporting", 2, "Nightly reporting batch (being retired)", 0.0, 0.0, "constant"),
)

_PRIORITIES = (
    ("P1", "Critical: widespread customer impact"),
    ("P2", "High: significant impact on a key flow"),
    ("P3", "Moderate: partial or degraded service"),
    ("P4", "Low: minor impact, workaround exists"),
    ("P5", "Informational"),
)

_PLAIN_TITLES = (
    "High error rate on {svc}",
    "{svc}: p99 latency above 2s for 10 minutes",
    "Health check failing for {svc} in eu-west-1",
    "Disk usage above 95% on {host}",
    "CPU throttling on {host}",
    "Queue backlog above 10k messages for {svc}",
    "5xx spike after deploy of {svc}",
    "TLS certificate for {svc}.acme.internal expires in 3 days",
    "Memory leak suspected in {svc} (OOMKilled x3)",
    "Synthetic check failed: login flow via {svc}",
)
_UNICODE_TITLES = (
    "Datenbankverbindungen erschöpft – {svc}",
    "数据库连接超时 ({svc})",
    "🔥 Checkout conversion dropped 40% ({svc})",
    "Zahlungsanbieter antwortet nicht: „timeout“ ({svc})",
    "Latência elevada em {svc} — região São Paulo",
)
_HTML_TITLES = (
    "[FIRING:1] <b>{svc}</b> error budget burn > 10x & paging",
    'Alert: <b>{svc}</b> returned "503 Service Unavailable" & retries exhausted',
    "Synthetic check <i>checkout</i> failed on {svc}: 'Pay now' button missing",
)

# Overview entries are the ones `is_overview=true` keeps.
OVERVIEW_KINDS = frozenset({"trigger", "acknowledge", "resolve"})


@dataclass(frozen=True)
class PdTeam:
    id: str
    name: str
    description: str


@dataclass(frozen=True)
class PdUser:
    id: str
    person: Person
    role: str


@dataclass(frozen=True)
class PdPriority:
    id: str
    name: str
    description: str
    order: int


@dataclass(frozen=True)
class PdPolicy:
    id: str
    name: str
    team_id: str
    user_ids: tuple[str, ...]


@dataclass(frozen=True)
class PdService:
    id: str
    name: str
    description: str
    team_id: str
    policy_id: str
    created_ms: int
    urgency_rule: str
    weight: float
    low_share: float


@dataclass(frozen=True)
class PdEvent:
    """One log entry. agent is ("user"|"service", id); user_id is the assignee/notified/acknowledging user."""

    at_ms: int
    kind: str
    log_id: str
    agent: tuple[str, str]
    channel: str
    user_id: str | None = None


@dataclass(frozen=True)
class PdIncident:
    n: int
    id: str
    number: int
    title: str
    urgency: str
    priority_id: str | None
    incident_key: str
    service_id: str
    team_id: str
    policy_id: str
    created_ms: int
    alert_count: int
    events: tuple[PdEvent, ...]
    scenario: str | None = None
    # its own alerts (gen_pagerduty_alerts.py), visible once received; none when a person opened it (web_trigger)
    alerts: tuple[PdAlert, ...] = ()


@dataclass(frozen=True)
class PdIncidentState:
    status: str
    updated_ms: int
    last_status_change_ms: int
    last_status_change_by: tuple[str, str]
    last_trigger_ms: int
    resolved_ms: int | None
    acknowledgements: tuple[tuple[int, str], ...]
    assignments: tuple[tuple[int, str], ...]
    events: tuple[PdEvent, ...]


def incident_state(incident: PdIncident, now_ms: int) -> PdIncidentState | None:
    """Fold the events visible at now_ms; None when the incident does not exist yet."""
    if incident.created_ms > now_ms:
        return None
    status = "triggered"
    updated = last_change = last_trigger = incident.created_ms
    changed_by: tuple[str, str] = incident.events[0].agent
    resolved: int | None = None
    acks: list[tuple[int, str]] = []
    assignments: list[tuple[int, str]] = []
    visible = []
    for ev in incident.events:
        if ev.at_ms > now_ms:
            break
        visible.append(ev)
        if ev.kind == "notify":
            continue
        updated = ev.at_ms
        if ev.kind == "assign" and ev.user_id:
            assignments = [(ev.at_ms, ev.user_id)]
            continue
        status = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}[ev.kind]
        last_change, changed_by = ev.at_ms, ev.agent
        if ev.kind == "trigger":
            last_trigger, acks, resolved = ev.at_ms, [], None
        elif ev.kind == "acknowledge" and ev.user_id:
            acks.append((ev.at_ms, ev.user_id))
        else:
            resolved, acks, assignments = ev.at_ms, [], []
    if status == "triggered":
        last_change = updated
    return PdIncidentState(
        status=status,
        updated_ms=updated,
        last_status_change_ms=last_change,
        last_status_change_by=changed_by,
        last_trigger_ms=last_trigger,
        resolved_ms=resolved,
        acknowledgements=tuple(acks),
        assignments=tuple(assignments),
        events=tuple(visible),
    )


# No incident stays open longer than this (natural ones resolve within ~5 days, the planted long one within 21):
# a query for open incidents only needs to look at those created in the last MAX_INCIDENT_LIFETIME.
MAX_INCIDENT_LIFETIME = 30 * DAY


@dataclass
class PagerDutyData:
    """The account: configuration objects, and incidents built from their skeleton (creation time, service,
    planted scenario) on demand. Small scales build every incident at start-up; bulk scales build them lazily
    per record (`incidents` is a LazyRecords), so start-up stays fast and memory bounded."""

    account_time_zone: str
    teams: tuple[PdTeam, ...]
    users: tuple[PdUser, ...]
    priorities: tuple[PdPriority, ...]
    policies: tuple[PdPolicy, ...]
    services: tuple[PdService, ...]
    skeleton: tuple[tuple[int, PdService, str | None], ...]  # (created, service, scenario), creation order
    created_ms: int
    seed: int = 0
    first_number: int = 0
    anchor_ms: int = 0
    lazy: bool = False
    ttr: tuple[tuple[float, int, int], ...] = STRESS_TTR  # the profile's time-to-resolve buckets
    log_index: dict[str, tuple[PdIncident, PdEvent]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.team = {t.id: t for t in self.teams}
        self.user = {u.id: u for u in self.users}
        self.priority = {p.id: p for p in self.priorities}
        self.policy = {p.id: p for p in self.policies}
        self.service = {s.id: s for s in self.services}
        self.created = [at for at, _, _ in self.skeleton]
        self._by_id: dict[str, int] | None = None
        self._by_id_lock = threading.Lock()
        if not self.lazy:
            self.by_id  # noqa: B018 - small scales check for id collisions at start-up
        by_service: dict[str, list[int]] = {s.id: [] for s in self.services}
        for at, svc, _ in self.skeleton:
            by_service[svc.id].append(at)
        self.created_by_service = by_service
        # planted merges: the source incident's n -> the target's n (the source is resolved into the target)
        planted = {scenario: n for n, (_, _, scenario) in enumerate(self.skeleton) if scenario}
        self.merges = ({planted["merge_source"]: planted["merge_target"]}
                       if "merge_source" in planted and "merge_target" in planted else {})
        self.incidents: LazyRecords[PdIncident] = LazyRecords(
            len(self.skeleton), self._build, keep=20_000 if self.lazy else None, on_build=self._index_log)
        if not self.lazy:
            self.incidents.warm()
        self._views = ViewCache(self._compute_views)

    @property
    def by_id(self) -> dict[str, int]:
        """Incident id -> n; bulk scales compute it on the first lookup by id (ids are hashes)."""
        with self._by_id_lock:
            if self._by_id is None:
                found = {pd_id("Q", 14, self.seed, "incident", n): n for n in range(len(self.skeleton))}
                if len(found) != len(self.skeleton):
                    raise RuntimeError("generated PagerDuty ids collide; change the id length")
                self._by_id = found
            return self._by_id

    def _build(self, n: int) -> PdIncident:
        at, svc, scenario = self.skeleton[n]
        inc = _build_incident(self.seed, n, self.first_number + n, at, svc, scenario, self.policy[svc.policy_id],
                              self.priorities, self.anchor_ms, self.ttr)
        assert inc.events[-1].at_ms - inc.created_ms <= MAX_INCIDENT_LIFETIME, inc.id
        return inc

    def _index_log(self, inc: PdIncident) -> None:
        for k, ev in enumerate(inc.events):  # bulk scales: ids only (the record itself may leave the cache)
            self.log_index[ev.log_id] = (inc, ev) if not self.lazy else (inc.n, k)  # type: ignore[assignment]

    def log_entry(self, log_id: str) -> tuple[PdIncident, PdEvent] | None:
        """A log entry by id, among the incidents built so far (small scales: all of them)."""
        hit: Any = self.log_index.get(log_id)
        if hit is None or not self.lazy:
            return hit
        inc = self.incidents.get(hit[0])
        return inc, inc.events[hit[1]]

    def incident(self, ident: str) -> PdIncident | None:
        """By id, or by incident number as PagerDuty also accepts."""
        n = self.by_id.get(ident)
        if n is None and ident.isdigit() and 0 <= int(ident) - self.first_number < len(self.skeleton):
            n = int(ident) - self.first_number
        return None if n is None else self.incidents.get(n)

    def merged_into(self, n: int, now_ms: int) -> PdIncident | None:
        """The incident that incident n was merged into by now_ms (a merge resolves the source), else None."""
        target = self.merges.get(n)
        if target is None:
            return None
        source = self.incidents.get(n)
        merged_ms = next(ev.at_ms for ev in source.events if ev.kind == "resolve")
        return self.incidents.get(target) if merged_ms <= now_ms else None

    def alerts(self, inc: PdIncident, now_ms: int) -> list[tuple[PdAlert, PdIncident]]:
        """The alerts incident `inc` holds at now_ms, oldest first, each with the incident it came from: its own
        received by then (none once it is merged away), and, once merged, those of the incidents merged into it."""
        if self.merged_into(inc.n, now_ms) is not None:
            return []
        held = [(a, inc) for a in inc.alerts if a.created_ms <= now_ms]
        for source_n, target_n in self.merges.items():
            if target_n == inc.n and self.merged_into(source_n, now_ms) is not None:
                source = self.incidents.get(source_n)
                held += [(a, source) for a in source.alerts if a.created_ms <= now_ms]
        return sorted(held, key=lambda pair: (pair[0].created_ms, pair[0].id))

    def index_range(self, lo_ms: int, hi_ms: int) -> range:
        """Incident numbers n with lo_ms <= created < hi_ms (creation order = n order)."""
        return range(bisect_left(self.created, lo_ms), bisect_left(self.created, hi_ms))

    def last_created(self, service_id: str, now_ms: int) -> int | None:
        times = self.created_by_service.get(service_id, [])
        k = bisect_right(times, now_ms)
        return times[k - 1] if k else None

    def _compute_views(self, now_ms: int) -> list[tuple[PdIncident, PdIncidentState]]:
        out = []
        for n in range(bisect_right(self.created, now_ms)):
            inc = self.incidents.get(n)
            state = incident_state(inc, now_ms)
            if state is not None:
                out.append((inc, state))
        return out

    def views(self, now_ms: int) -> list[tuple[PdIncident, PdIncidentState]]:
        """Incidents that exist at now_ms with their state, ordered by creation (= incident number). Builds every
        incident: for tests and small scales; the API handlers use index ranges."""
        return self._views.get(now_ms)


# --- planted scenarios: creation relative to the anchor, plan as (offset from creation, kind) ---


def _planted(window: Window, r: random.Random) -> list[tuple[int, str]]:
    a = window.anchor_ms
    midnight = floor_day(a - 4 * DAY) - 50 * MINUTE
    afternoon = floor_day(a - 10 * DAY) + 14 * HOUR
    return [
        (a - 12 * DAY + r.randint(0, 3600) * SECOND, "html_title"),
        (afternoon, "overlap_a"),
        (afternoon + 30 * MINUTE, "overlap_b"),
        (a - 9 * DAY, "long_open"),
        (a - 6 * DAY - 3 * HOUR, "reopened"),
        (midnight, "midnight"),
        (a - 26 * HOUR, "reopened_open"),
        (a - 3 * HOUR, "open_acknowledged"),
        (a - 25 * MINUTE, "open_triggered"),
        (a + 5 * HOUR, "future"),
        (a + 30 * HOUR, "future"),
        # time to detect: S opened 09:30 and merged into T (opened 10:00) at 10:10; a person opens one by hand
        (floor_day(a - 5 * DAY) + 9 * HOUR + 30 * MINUTE, "merge_source"),
        (floor_day(a - 5 * DAY) + 10 * HOUR, "merge_target"),
        (floor_day(a - 7 * DAY) + 11 * HOUR, "human_trigger"),
    ]


def _scenario_plan(scenario: str, created_ms: int, anchor_ms: int) -> list[tuple[int, str]]:
    until_anchor = anchor_ms - created_ms
    plans = {
        "open_triggered": [(0, "trigger"), (until_anchor + 3 * HOUR, "resolve")],
        "open_acknowledged": [
            (0, "trigger"),
            (10 * MINUTE, "acknowledge"),
            (until_anchor + 20 * HOUR, "resolve"),
        ],
        "long_open": [(0, "trigger"), (7 * MINUTE, "acknowledge"), (until_anchor + 12 * DAY, "resolve")],
        "reopened": [
            (0, "trigger"),
            (4 * MINUTE, "acknowledge"),
            (44 * MINUTE, "resolve"),
            (2 * HOUR + 44 * MINUTE, "trigger"),
            (2 * HOUR + 50 * MINUTE, "acknowledge"),
            (3 * HOUR + 50 * MINUTE, "resolve"),
        ],
        "reopened_open": [
            (0, "trigger"),
            (6 * MINUTE, "acknowledge"),
            (60 * MINUTE, "resolve"),
            (until_anchor - 40 * MINUTE, "trigger"),
            (until_anchor + 2 * HOUR, "resolve"),
        ],
        "midnight": [(0, "trigger"), (9 * MINUTE, "acknowledge"), (2 * HOUR + 20 * MINUTE, "resolve")],
        "overlap_a": [(0, "trigger"), (5 * MINUTE, "acknowledge"), (2 * HOUR, "resolve")],
        "overlap_b": [(0, "trigger"), (30 * MINUTE, "resolve")],
        "merge_source": [(0, "trigger"), (40 * MINUTE, "resolve")],  # the merge into merge_target resolves it
        "merge_target": [(0, "trigger"), (12 * MINUTE, "acknowledge"), (2 * HOUR, "resolve")],
        "human_trigger": [(0, "trigger"), (20 * MINUTE, "acknowledge"), (90 * MINUTE, "resolve")],
    }
    return plans.get(scenario, [])


def _natural_plan(r: random.Random, ttr_buckets=STRESS_TTR) -> list[tuple[int, str]]:
    plan = [(0, "trigger")]
    tta = pick_duration(
        r, [(0.6, MINUTE, 10 * MINUTE), (0.3, 10 * MINUTE, 45 * MINUTE), (0.1, 45 * MINUTE, 3 * HOUR)]
    )
    ttr = pick_duration(r, list(ttr_buckets))
    if r.random() < 0.75:
        ttr = max(ttr, tta + 2 * MINUTE)
        plan.append((tta, "acknowledge"))
    plan.append((ttr, "resolve"))
    if r.random() < 0.06:
        again = ttr + pick_duration(r, [(1.0, 10 * MINUTE, 8 * HOUR)])
        plan.append((again, "trigger"))
        ack = again
        if r.random() < 0.6:
            ack = again + pick_duration(r, [(1.0, 2 * MINUTE, 20 * MINUTE)])
            plan.append((ack, "acknowledge"))
        plan.append((ack + pick_duration(r, [(1.0, 10 * MINUTE, 4 * HOUR)]), "resolve"))
    return plan


def incident_key(seed: int, n: int) -> str:
    return hex_id(32, seed, "incident-key", n)


def _title(r: random.Random, service: PdService, kind: str) -> str:
    pool = {"plain": _PLAIN_TITLES, "unicode": _UNICODE_TITLES, "html": _HTML_TITLES}[kind]
    host = f"{service.name}-{r.randint(1, 12):02d}.prod.acme.internal"
    return r.choice(pool).format(svc=service.name, host=host)


def _build_incident(
    seed: int,
    n: int,
    number: int,
    created_ms: int,
    service: PdService,
    scenario: str | None,
    policy: PdPolicy,
    priorities: tuple[PdPriority, ...],
    anchor_ms: int,
    ttr_buckets=STRESS_TTR,
) -> PdIncident:
    r = rng(seed, "incident", n)
    urgency = "low" if r.random() < service.low_share else "high"
    priority = None
    if r.random() >= 0.3:
        priority = weighted(r, list(zip((0.1, 0.2, 0.35, 0.25, 0.1), priorities, strict=True))).id
    title_kind = weighted(r, [(0.82, "plain"), (0.12, "unicode"), (0.06, "html")])
    plan = _scenario_plan(scenario, created_ms, anchor_ms) if scenario else []
    if not plan:
        plan = _natural_plan(r, ttr_buckets)
    if scenario == "html_title":
        title_kind = "html"
    elif scenario == "overlap_b":
        urgency, priority = "low", None
    elif scenario in ("overlap_a", "midnight", "open_triggered", "reopened_open"):
        urgency = "high"
    title = _title(r, service, title_kind)
    responder = r.choice(policy.user_ids)
    events: list[PdEvent] = []
    acked_by: str | None = None
    for k, (offset, kind) in enumerate(sorted(plan, key=lambda p: p[0])):
        at = created_ms + offset // SECOND * SECOND
        log_id = pd_id("R", 14, seed, "log", n, k)
        if kind == "trigger":
            channel = weighted(r, [(0.7, "api"), (0.2, "email"), (0.1, "nagios")])
            events.append(PdEvent(at, "trigger", log_id, ("service", service.id), channel))
            events.append(
                PdEvent(
                    at,
                    "assign",
                    pd_id("R", 14, seed, "log", n, k, "assign"),
                    ("service", service.id),
                    "auto",
                    responder,
                )
            )
            if urgency == "high":
                events.append(
                    PdEvent(
                        at + r.randint(5, 60) * SECOND,
                        "notify",
                        pd_id("R", 14, seed, "log", n, k, "notify"),
                        ("user", responder),
                        "auto",
                        responder,
                    )
                )
            acked_by = None
        elif kind == "acknowledge":
            acked_by = responder
            channel = weighted(r, [(0.6, "website"), (0.3, "sms"), (0.1, "email")])
            events.append(PdEvent(at, "acknowledge", log_id, ("user", responder), channel, responder))
        else:
            if acked_by or r.random() < 0.5:
                events.append(
                    PdEvent(
                        at,
                        "resolve",
                        log_id,
                        ("user", acked_by or responder),
                        "website",
                        acked_by or responder,
                    )
                )
            else:
                events.append(PdEvent(at, "resolve", log_id, ("service", service.id), "api"))
    events.sort(key=lambda e: e.at_ms)
    alert_count = r.choice((1, 1, 1, 1, 2, 2, 3, 5))
    human = human_trigger(seed, n, scenario)
    if human:  # opened by hand in the web UI: the trigger's agent is the person, and there is no alert
        alert_count = 0
        events[0] = PdEvent(events[0].at_ms, "trigger", events[0].log_id, ("user", responder), "web_trigger",
                            responder)
    planted_lead = {"merge_source": MINUTE, "merge_target": 2 * MINUTE}.get(scenario or "")
    if planted_lead is not None:
        alert_count = 1
    first_resolve = next((ev.at_ms for ev in events if ev.kind == "resolve"), created_ms + HOUR)
    return PdIncident(
        n=n,
        id=pd_id("Q", 14, seed, "incident", n),
        number=number,
        title=title,
        urgency=urgency,
        priority_id=priority,
        incident_key=incident_key(seed, n),
        service_id=service.id,
        team_id=service.team_id,
        policy_id=service.policy_id,
        created_ms=created_ms,
        alert_count=alert_count,
        events=tuple(events),
        scenario=scenario,
        alerts=build_alerts(seed, n, created_ms, first_resolve, alert_count, planted_lead),
    )


def build_pagerduty(
    seed: int, window: Window, scale: Scale, people: tuple[Person, ...], account_time_zone: str
) -> PagerDutyData:
    r = rng(seed, "pagerduty", "config")
    teams = tuple(
        PdTeam(pd_id("P", 7, seed, "team", i), *_TEAMS[i % len(_TEAMS)]) for i in range(scale.pd_teams)
    )
    users = tuple(
        PdUser(p.pagerduty_id, p, "admin" if p.index == 0 else "user")
        for p in people[: max(6, len(people) // 2 + 2)]
    )
    priorities = tuple(
        PdPriority(pd_id("P", 7, seed, "priority", i), name, desc, i)
        for i, (name, desc) in enumerate(_PRIORITIES)
    )
    policies = tuple(
        PdPolicy(
            pd_id("P", 7, seed, "policy", i),
            f"{team.name} on-call",
            team.id,
            tuple(u.id for j, u in enumerate(users) if j % len(teams) == i),
        )
        for i, team in enumerate(teams)
    )
    services = []
    profile = scale.profile
    for i in range(scale.pd_services):
        name, team_idx, desc, weight, low, rule = _SERVICES[i % len(_SERVICES)]
        if profile.service_weights is not None:
            weight = profile.service_weights[i % len(profile.service_weights)]
        if profile.low_urgency_shares is not None:
            low = profile.low_urgency_shares[i % len(profile.low_urgency_shares)]
        team_idx %= len(teams)
        services.append(
            PdService(
                id=pd_id("P", 7, seed, "service", i),
                name=name if i < len(_SERVICES) else f"{name}-{i // len(_SERVICES)}",
                description=desc,
                team_id=teams[team_idx].id,
                policy_id=policies[team_idx].id,
                created_ms=window.start_ms - r.randint(200, 900) * DAY + r.randint(0, DAY // SECOND) * SECOND,
                urgency_rule=rule,
                weight=weight,
                low_share=low,
            )
        )
    busy = [(s.weight, s) for s in services if s.weight > 0]

    arr = rng(seed, "pagerduty", "arrivals")
    skeleton: list[tuple[int, int, PdService, str | None]] = []
    pick = Picker(busy) if scale.lazy else (lambda r: weighted(r, busy))
    for t in arrivals(arr, window.start_ms, window.end_ms, scale.incidents_per_day * profile.incident_rate):
        svc = pick(arr)
        skeleton.append((t, len(skeleton), svc, None))
        if arr.random() < profile.second_page_share:  # a second page on the same service while the first is open
            skeleton.append((t + arr.randint(3 * 60, 45 * 60) * SECOND, len(skeleton), svc, None))
    plant = rng(seed, "pagerduty", "planted")
    overlap_service = weighted(plant, busy)
    for at, scenario in _planted(window, plant) if profile.planted_incidents else ():
        svc = overlap_service if scenario.startswith(("overlap", "merge")) else weighted(plant, busy)
        skeleton.append((at, len(skeleton), svc, scenario))
    skeleton.sort(key=lambda s: (s[0], s[1]))

    first_number = rng(seed, "pagerduty", "numbering").randint(1200, 4800)
    ids = [x.id for x in (*teams, *users, *priorities, *policies, *services)]
    if len(set(ids)) != len(ids):
        raise RuntimeError("generated PagerDuty ids collide; change the id length")
    return PagerDutyData(
        account_time_zone=account_time_zone,
        teams=teams,
        users=users,
        priorities=priorities,
        policies=policies,
        services=tuple(services),
        skeleton=tuple((at, svc, scenario) for at, _, svc, scenario in skeleton),
        created_ms=window.start_ms - 1000 * DAY,
        seed=seed,
        first_number=first_number,
        anchor_ms=window.anchor_ms,
        lazy=scale.lazy,
        ttr=profile.ttr,
    )
