"""Shared building blocks for the generators: scale, time window, people and random-duration helpers.

The generators create a full event timeline for every record up front (creation, transitions, closure, also
those in the emulated future); an API then shows the state *as of the clock*. Advancing the clock therefore
reveals new records and changes old ones, without any mutable state in the data itself.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from emulator.ids import hex_id, pd_id, rng, small_int
from emulator.timefmt import DAY, HOUR, MINUTE, SECOND

T = TypeVar("T")


# How long a natural PagerDuty incident takes to resolve: (weight, shortest, longest) in ms.
STRESS_TTR = (
    # Most pages are handled within the hour; a long tail of slow fixes and forgotten incidents.
    (0.60, 5 * MINUTE, 30 * MINUTE),
    (0.30, 30 * MINUTE, 2 * HOUR),
    (0.08, 2 * HOUR, 8 * HOUR),
    (0.015, 8 * HOUR, 30 * HOUR),
    (0.005, 2 * DAY, 4 * DAY),
)


@dataclass(frozen=True)
class Profile:
    """How the emulated organisation behaves, on top of a Scale's volumes (see PROFILES)."""

    name: str
    incident_rate: float = 1.0  # multiplies Scale.incidents_per_day
    # share of incidents per PagerDuty service, in gen_pagerduty's service order (None: its own shares)
    service_weights: tuple[float, ...] | None = None
    # share of low-urgency incidents per service, same order (None: gen_pagerduty's); only high urgency is downtime
    low_urgency_shares: tuple[float, ...] | None = None
    ttr: tuple[tuple[float, int, int], ...] = STRESS_TTR
    second_page_share: float = 0.12  # an arrival that pages twice on the same service
    planted_incidents: bool = True  # gen_pagerduty's planted edge cases (open at the clock, 21 days open, ...)
    security_rate: float = 1.0  # multiplies the security alert rates (with Scale.security_rate_scale)
    security_open_share: float = 0.16  # alerts nobody ever closes
    security_fix_time: float = 1.0  # multiplies the days to fix an alert


PROFILES = {
    # Every edge case, every seed, often: frequent incidents with a long tail of slow resolutions (several
    # services miss their SLO), many alerts left open. What the tests are written against; the default.
    "stress": Profile("stress"),
    # A healthy mid-size organisation, for the demo: a few incidents a month per service, resolved within the
    # hour mostly, org availability about 99.8 % with checkout-api the one service in trouble (about half of
    # all incidents, its budget overspent); security alerts mostly fixed within SLA, a handful past it. The
    # GitHub activity (DORA) is the stress profile's: tiers come out mixed on their own.
    "healthy": Profile(
        "healthy",
        incident_rate=0.45,
        # api-gateway, auth-service, checkout-api, payments-worker, web-frontend, legacy-reporting
        service_weights=(0.12, 0.10, 0.52, 0.14, 0.12, 0.0),
        low_urgency_shares=(0.75, 0.70, 0.25, 0.65, 0.70, 0.0),
        ttr=((0.70, 4 * MINUTE, 20 * MINUTE), (0.26, 20 * MINUTE, 75 * MINUTE), (0.04, 75 * MINUTE, 3 * HOUR)),
        second_page_share=0.05,
        planted_incidents=False,
        security_rate=0.45,
        security_open_share=0.02,
        security_fix_time=0.4,
    ),
}


@dataclass(frozen=True)
class Scale:
    """Volume knobs. Rates are per day so the history/future spans can change without retuning."""

    name: str
    history_days: int
    future_days: int
    pd_teams: int
    pd_services: int
    incidents_per_day: float
    jira_projects: int
    issues_per_day: float
    gh_repos: int
    pulls_per_day: float
    people: int
    # Bulk scales build records lazily (per record, per repository) instead of all at start-up; see scale.py.
    lazy: bool = False
    jira_noisy_share: float = 0.04  # share of ordinary issues with 25-45 rank changes in their changelog
    security_rate_scale: float = 1.0  # multiplies gen_security's alert rates per repository
    profile: Profile = PROFILES["stress"]  # behaviour (incident and alert patterns), see Profile

    def with_counts(self, counts: dict[str, int]) -> Scale:
        """Explicit volumes (records created before the start clock) instead of the preset's: `incidents`,
        `issues`, `pulls`, `repos`, `services`, `projects`, `teams`, `history_days`, `future_days`."""
        unknown = set(counts) - set(COUNT_KEYS)
        if unknown:
            raise ValueError(f"unknown count {sorted(unknown)[0]!r}; choose from {', '.join(COUNT_KEYS)}")
        if any(int(v) < 0 for v in counts.values()):
            raise ValueError("counts must not be negative")
        fields = dict(self.__dict__)
        history = int(counts.get("history_days", self.history_days)) or 1
        fields["history_days"] = history
        fields["future_days"] = int(counts.get("future_days", self.future_days))
        for key, (field, per_day) in COUNT_KEYS.items():
            if key in counts and per_day:
                fields[field] = max(int(counts[key]), 0) / history
            elif key in counts and field not in ("history_days", "future_days"):
                fields[field] = max(1, int(counts[key]))
        fields["lazy"] = True  # explicit volumes are built per record / per repository, like the bulk presets
        fields["name"] = self.name + "+" + ",".join(f"{k}={v}" for k, v in sorted(counts.items()))
        return Scale(**fields)


COUNT_KEYS = {  # key -> (Scale field, whether the field is a rate per day)
    "incidents": ("incidents_per_day", True),
    "issues": ("issues_per_day", True),
    "pulls": ("pulls_per_day", True),
    "repos": ("gh_repos", False),
    "services": ("pd_services", False),
    "projects": ("jira_projects", False),
    "teams": ("pd_teams", False),
    "history_days": ("history_days", False),
    "future_days": ("future_days", False),
}


def parse_counts(text: str) -> dict[str, int]:
    """`incidents=5000,pulls=20000` -> {"incidents": 5000, "pulls": 20000}."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not value.strip().isdigit():
            raise ValueError(f"expected NAME=COUNT, got {part!r}")
        out[key.strip()] = int(value)
    Scale("check", 1, 0, 1, 1, 0, 1, 0, 1, 0, 1).with_counts(out)  # validates the names
    return out


SCALES = {
    # ~250 incidents, ~300 issues, ~400 pull requests in the 120 days before the start clock.
    "demo": Scale(
        name="demo",
        history_days=120,
        future_days=400,
        pd_teams=3,
        pd_services=6,
        incidents_per_day=1.7,
        jira_projects=2,
        issues_per_day=2.45,
        gh_repos=4,
        pulls_per_day=3.3,
        people=12,
    ),
    # About 1/10 of large: the benchmark default (~10,000 incidents, 20,000 issues, 30,000 pull requests).
    "medium": Scale(
        name="medium",
        history_days=365,
        future_days=30,
        pd_teams=6,
        pd_services=24,
        incidents_per_day=10_200 / 365 / 1.12,  # 12 % of arrivals page twice
        jira_projects=6,
        issues_per_day=20_500 / 365,
        gh_repos=16,
        pulls_per_day=30_000 / 365,
        people=40,
        lazy=True,
        jira_noisy_share=0.11,
        security_rate_scale=3.0,
    ),
    # At the start clock: >= 100,000 incidents, 200,000 issues (2,000,000 changelog entries), 300,000 pull
    # requests, 50,000 deployments.
    "large": Scale(
        name="large",
        history_days=365,
        future_days=30,
        pd_teams=12,
        pd_services=60,
        incidents_per_day=102_000 / 365 / 1.12,
        jira_projects=20,
        issues_per_day=205_000 / 365,
        gh_repos=160,
        pulls_per_day=300_000 / 365,
        people=120,
        lazy=True,
        jira_noisy_share=0.11,
        security_rate_scale=3.0,
    ),
}


@dataclass(frozen=True)
class Window:
    """The span that has a generated timeline: [anchor - history, anchor + future]."""

    anchor_ms: int
    start_ms: int
    end_ms: int

    @classmethod
    def around(cls, anchor_ms: int, scale: Scale) -> Window:
        return cls(anchor_ms, anchor_ms - scale.history_days * DAY, anchor_ms + scale.future_days * DAY)


@dataclass(frozen=True)
class Person:
    """One human, reused across the three tools so cross-source joins (same engineer) are possible."""

    index: int
    name: str
    email: str
    login: str
    github_id: int
    jira_account_id: str
    pagerduty_id: str
    time_zone: str


_NAMES = (
    ("Ada Okafor", "Europe/London"),
    ("Björn Lindqvist", "Europe/Stockholm"),
    ("Chen Wei", "Asia/Shanghai"),
    ("Dana O'Neil", "America/New_York"),
    ("Élodie Marchand", "Europe/Paris"),
    ("Farah Haddad", "Asia/Dubai"),
    ("Grzegorz Brzęczyszczykiewicz", "Europe/Warsaw"),
    ("Hiro Tanaka", "Asia/Tokyo"),
    ("Inês Costa", "Europe/Lisbon"),
    ("Jamal Wright", "America/Chicago"),
    ("Kateřina Dvořáková", "Europe/Prague"),
    ("Luis Peña", "America/Mexico_City"),
    ("Mia Krystof", "Australia/Sydney"),
    ("Noor Rahman", "Asia/Kolkata"),
    ("Olu Adeyemi", "Africa/Lagos"),
    ("Priya Raman", "America/Los_Angeles"),
    ("Quinn Avery", "America/Denver"),
    ("Saoirse Kelly", "Europe/Dublin"),
)


def _ascii_slug(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "-".join("".join(c for c in part if c.isalnum()) for part in plain.lower().split())


def build_people(seed: int, count: int) -> tuple[Person, ...]:
    chosen = list(_NAMES)
    rng(seed, "people").shuffle(chosen)
    people = []
    for i in range(count):
        name, tz = chosen[i % len(chosen)]
        slug = _ascii_slug(name) + (f"-{i // len(chosen)}" if i >= len(chosen) else "")
        people.append(
            Person(
                index=i,
                name=name,
                email=f"{slug.replace('-', '.')}@acme.example",
                login=slug,
                github_id=small_int(1_000_000, 99_999_999, seed, "gh-user", i),
                jira_account_id=hex_id(24, seed, "jira-user", i),
                pagerduty_id=pd_id("P", 7, seed, "pd-user", i),
                time_zone=tz,
            )
        )
    return tuple(people)


def arrivals(r: random.Random, start_ms: int, end_ms: int, per_day: float) -> list[int]:
    """Poisson arrival times (whole seconds) in [start, end)."""
    out = []
    t = float(start_ms)
    mean_gap = DAY / per_day
    while True:
        t += r.expovariate(1.0) * mean_gap
        if t >= end_ms:
            return out
        out.append(int(t) // SECOND * SECOND)


def pick_duration(r: random.Random, buckets: Sequence[tuple[float, int, int]]) -> int:
    """Draw from weighted [low, high] buckets, log-uniform inside a bucket (durations are heavy-tailed)."""
    low, high = weighted(r, [(w, (lo, hi)) for w, lo, hi in buckets])
    return int(math.exp(r.uniform(math.log(low), math.log(high))))


def weighted(r: random.Random, options: Sequence[tuple[float, T]]) -> T:
    total = sum(w for w, _ in options)
    point = r.random() * total
    for w, value in options:
        point -= w
        if point < 0:
            return value
    return options[-1][1]


class Picker(Generic[T]):
    """`weighted` for one fixed list of options, by bisection on cumulative weights (bulk skeletons call it
    hundreds of thousands of times). Draws one `r.random()` like `weighted`."""

    def __init__(self, options: Sequence[tuple[float, T]]) -> None:
        self._values = [value for _, value in options]
        self._cumulative = list(itertools.accumulate(w for w, _ in options))

    def __call__(self, r: random.Random) -> T:
        k = bisect.bisect_right(self._cumulative, r.random() * self._cumulative[-1])
        return self._values[k] if k < len(self._values) else self._values[-1]


class ViewCache(Generic[T]):
    """Entity states at one clock value, recomputed only when the clock moves: page walks stay cheap."""

    def __init__(self, compute: Callable[[int], T]) -> None:
        self._compute = compute
        self._key: int | None = None
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self, now_ms: int) -> T:
        with self._lock:
            if self._key != now_ms:
                self._value = self._compute(now_ms)
                self._key = now_ms
            return self._value  # type: ignore[return-value]


class LazyRecords(Sequence[T]):
    """Records built on demand from their index by a deterministic `build(n)`, kept in a bounded LRU.

    `keep=None` keeps every record built (small scales build them all at start-up and never rebuild); a bound
    keeps memory flat at bulk scales, where a record is rebuilt (identically: its own random stream) when needed
    again. `on_build` sees each record the first time it is built (to fill secondary indexes)."""

    def __init__(self, count: int, build: Callable[[int], T], keep: int | None = None,
                 on_build: Callable[[T], None] | None = None) -> None:
        self._count = count
        self._build = build
        self._keep = keep
        self._on_build = on_build
        self._cache: OrderedDict[int, T] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._count

    def get(self, n: int) -> T:
        with self._lock:
            found = self._cache.get(n)
            if found is not None:
                self._cache.move_to_end(n)
                return found
        record = self._build(n)
        with self._lock:
            if n not in self._cache and self._on_build is not None:
                self._on_build(record)
            self._cache[n] = record
            if self._keep is not None and len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        return record

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self.get(n) for n in range(*index.indices(self._count))]
        n = index + self._count if index < 0 else index
        if not 0 <= n < self._count:
            raise IndexError(index)
        return self.get(n)

    def __iter__(self) -> Iterator[T]:
        for n in range(self._count):
            yield self.get(n)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Sequence) and len(self) == len(other)
                and all(a == b for a, b in zip(self, other, strict=True)))

    __hash__ = None  # type: ignore[assignment]

    def warm(self) -> None:
        for n in range(self._count):
            self.get(n)


class QueryCache:
    """The full, filtered and sorted answer of a list query at one clock value, reused by its later pages.

    A walk asks for page after page of the same query: computing the answer once and slicing it keeps every
    page O(page) even at bulk scales. Keyed on everything but the paging parameters; a few entries only."""

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._entries: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = compute()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value
