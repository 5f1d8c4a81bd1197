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

    def peek(self, bucket: str, now_ms: int) -> Quota:
        with self._lock:
            return self._quota(bucket, now_ms, self._current(bucket, now_ms))

    def consume(self, bucket: str, now_ms: int) -> Quota:
        with self._lock:
            used = min(self._current(bucket, now_ms) + 1, self._limits[bucket])
            self._used[bucket] = (now_ms // HOUR, used)
            return self._quota(bucket, now_ms, used)
