"""Shared building blocks for the generators: scale, time window, people and random-duration helpers.

The generators create a full event timeline for every record up front (creation, transitions, closure, also
those in the emulated future); an API then shows the state *as of the clock*. Advancing the clock therefore
reveals new records and changes old ones, without any mutable state in the data itself.
"""

from __future__ import annotations

import math
import random
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from emulator.ids import hex_id, pd_id, rng, small_int
from emulator.timefmt import DAY, SECOND

T = TypeVar("T")


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
