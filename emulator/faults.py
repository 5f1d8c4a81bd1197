"""Fault injection: the failures real APIs and the networks in front of them produce.

Whether API request n is faulted is drawn from `random.Random(f"{seed}:{n}")`; the kinds are dealt from
shuffled decks, so every kind appears once in each `len(kinds)` faults, even in a run of few requests. The same
seed and the same request order replay the same faults exactly. Admin requests are
never faulted and never counted.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

KINDS = ("429", "500", "502", "503", "timeout", "reset", "truncate", "slow", "html")


@dataclass
class FaultPlan:
    rate: float = 0.0
    kinds: tuple[str, ...] = KINDS
    seed: int = 0
    # How long `timeout` holds a connection before dropping it and `slow` delays an answer.
    delay_s: float = 2.0
    # Retry-After sent with injected 429s and 503s (kept small so tests stay fast).
    retry_after_s: int = 1
    injected: dict[str, int] = field(default_factory=dict)
    _count: int = 0
    _dealt: int = 0  # faults dealt since the seed was set
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind {unknown[0]!r}; choose from {', '.join(KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate {self.rate} must be between 0 and 1")

    def draw(self) -> str | None:
        """The fault for the next API request, or None."""
        with self._lock:
            self._count += 1
            n = self._count
        if self.rate <= 0 or not self.kinds:
            return None
        rng = random.Random(f"{self.seed}:{n}")
        if rng.random() >= self.rate:
            return None
        with self._lock:  # kinds are dealt from shuffled decks: every kind once per len(kinds) faults
            cycle, position = divmod(self._dealt, len(self.kinds))
            self._dealt += 1
            deck = list(self.kinds)
            random.Random(f"{self.seed}:deck:{cycle}").shuffle(deck)
            kind = deck[position]
            self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind

    def update(self, rate: float | None = None, kinds: list[str] | None = None, seed: int | None = None,
               delay_s: float | None = None, retry_after_s: int | None = None) -> None:
        """Change faults at run time; a new seed restarts the sequence so it can be replayed."""
        candidate = FaultPlan(
            rate=self.rate if rate is None else float(rate),
            kinds=self.kinds if kinds is None else tuple(kinds),
            seed=self.seed if seed is None else int(seed),
            delay_s=self.delay_s if delay_s is None else float(delay_s),
            retry_after_s=self.retry_after_s if retry_after_s is None else int(retry_after_s),
        )
        with self._lock:
            self.rate, self.kinds, self.delay_s, self.retry_after_s = (
                candidate.rate, candidate.kinds, candidate.delay_s, candidate.retry_after_s)
            if seed is not None:
                self.seed = candidate.seed
                self._count = self._dealt = 0

    def snapshot(self) -> dict:
        return {"rate": self.rate, "kinds": list(self.kinds), "seed": self.seed, "delay_s": self.delay_s,
                "retry_after_s": self.retry_after_s, "requests_seen": self._count, "injected": dict(self.injected)}


HTML_PAGE = (b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
             b"<body><h1>We'll be right back</h1><p>upstream connect error</p></body></html>")


def status_fault(kind: str, api: str, retry_after_s: int) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of an HTTP-level fault, in the shape each API really sends."""
    if kind == "429":
        if api == "pagerduty":
            return 429, [("Content-Type", "application/json"), ("ratelimit-limit", "960"),
                         ("ratelimit-remaining", "0"), ("ratelimit-reset", str(retry_after_s))], (
                b'{"error":{"message":"Rate Limit Exceeded","code":2020}}')
        if api == "github":
            return 429, [("Content-Type", "application/json; charset=utf-8"), ("retry-after", str(retry_after_s))], (
                b'{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try '
                b'again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}')
        headers = [("Content-Type", "application/json"), ("Retry-After", str(retry_after_s)),
                   ("RateLimit-Reason", "jira-burst-based")]
        return 429, headers, b'{"errorMessages":["Rate limit exceeded."],"errors":{}}'
    if kind == "500":
        return 500, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}'
    if kind == "502":
        return 502, [("Content-Type", "text/html")], b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    if kind == "503":
        return 503, [("Content-Type", "text/html"), ("Retry-After", str(retry_after_s))], HTML_PAGE
    if kind == "html":
        return 200, [("Content-Type", "text/html; charset=utf-8")], HTML_PAGE
    raise ValueError(kind)
