"""GitHub-style primary rate-limit buckets on the emulated clock.

Each bucket has a fixed hourly budget that resets at the top of the next emulated hour, so `x-ratelimit-reset`
is deterministic and advancing the clock refills the budget, as waiting would on github.com.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from emulator.timefmt import HOUR


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    used: int
    reset_epoch_s: int

    def headers(self, resource: str = "core") -> list[tuple[str, str]]:
        return [
            ("x-ratelimit-limit", str(self.limit)),
            ("x-ratelimit-remaining", str(self.remaining)),
            ("x-ratelimit-reset", str(self.reset_epoch_s)),
            ("x-ratelimit-used", str(self.used)),
            ("x-ratelimit-resource", resource),
        ]


class RateLimiter:
    def __init__(self, limits: dict[str, int]) -> None:
        self._limits = limits
        self._used: dict[str, tuple[int, int]] = {}  # bucket -> (hour index, used)
        self._lock = threading.Lock()

    def _quota(self, bucket: str, now_ms: int, used: int) -> Quota:
        limit = self._limits[bucket]
        reset = (now_ms // HOUR + 1) * HOUR // 1000
        return Quota(limit, max(0, limit - used), used, reset)

    def _current(self, bucket: str, now_ms: int) -> int:
        hour, used = self._used.get(bucket, (now_ms // HOUR, 0))
        return used if hour == now_ms // HOUR else 0

    def set_limit(self, bucket: str, limit: int) -> None:
        """Change a bucket's hourly budget (requests already made this hour still count)."""
        if limit < 1:
            raise ValueError("a rate limit must be at least 1")
        with self._lock:
            self._limits[bucket] = int(limit)

    def limit(self, bucket: str) -> int:
        return self._limits[bucket]

    def peek(self, bucket: str, now_ms: int) -> Quota:
        with self._lock:
            return self._quota(bucket, now_ms, self._current(bucket, now_ms))

    def consume(self, bucket: str, now_ms: int, amount: int = 1) -> Quota:
        """Spend `amount` (a request, or a GraphQL query's points) from this hour's budget."""
        with self._lock:
            used = min(self._current(bucket, now_ms) + amount, self._limits[bucket])
            self._used[bucket] = (now_ms // HOUR, used)
            return self._quota(bucket, now_ms, used)


SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to "
    "GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000."
)
SECONDARY_DOC = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"


class SecondaryLimit:
    """GitHub's secondary rate limits, on demand (they depend on load, so the emulator only shows them when told).

    `refuse_next` requests from now on are refused, and with `every` = N each Nth request is; the answer is a
    `status` of 403 (what GitHub mostly sends) or 429, with `retry-after` and the primary `x-ratelimit-*`
    headers still showing budget left, which is how a client tells a secondary limit from an exhausted quota.
    A refused request does not use primary quota. Counting requests (not a wall clock) keeps runs reproducible.
    """

    def __init__(self, status: int = 403, every: int = 0, retry_after_s: int = 60) -> None:
        self._lock = threading.Lock()
        self.status, self.every, self.retry_after_s = 403, 0, 60
        self.refuse_next = 0
        self.refused = 0
        self._seen = 0
        self.configure(status=status, every=every, retry_after_s=retry_after_s)

    def configure(self, status: int | None = None, every: int | None = None, refuse_next: int | None = None,
                  retry_after_s: int | None = None) -> None:
        if status is not None and int(status) not in (403, 429):
            raise ValueError("a secondary rate limit answers 403 or 429")
        for value in (every, refuse_next, retry_after_s):
            if value is not None and int(value) < 0:
                raise ValueError("secondary limit settings must not be negative")
        with self._lock:
            self.status = self.status if status is None else int(status)
            self.every = self.every if every is None else int(every)
            self.refuse_next = self.refuse_next if refuse_next is None else int(refuse_next)
            self.retry_after_s = self.retry_after_s if retry_after_s is None else int(retry_after_s)
            self._seen = 0

    def check(self) -> bool:
        """True when this request is refused."""
        with self._lock:
            self._seen += 1
            refuse = self.refuse_next > 0 or (self.every > 0 and self._seen % self.every == 0)
            if self.refuse_next > 0:
                self.refuse_next -= 1
            self.refused += refuse
            return refuse

    def snapshot(self) -> dict:
        return {"status": self.status, "every": self.every, "refuse_next": self.refuse_next,
                "retry_after_s": self.retry_after_s, "refused": self.refused}

    def body(self) -> dict:
        return {"message": SECONDARY_MESSAGE, "documentation_url": SECONDARY_DOC, "status": str(self.status)}
