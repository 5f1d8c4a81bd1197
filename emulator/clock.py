"""The emulated clock: the only source of "now" inside the emulator.

Responses must be byte-identical for the same seed and clock, so nothing may read the wall clock. Handlers
read `now_ms` once per request so a single response is internally consistent even while an admin call advances
time. The clock only moves forward: going back would make already-extracted records vanish, which no real API
does."""

from __future__ import annotations

import threading

from emulator.timefmt import iso_z, parse_iso


class Clock:
    def __init__(self, start: str | int) -> None:
        self._now_ms = parse_iso(start) if isinstance(start, str) else int(start)
        self.start_ms = self._now_ms
        self._lock = threading.Lock()

    @property
    def now_ms(self) -> int:
        return self._now_ms

    def iso(self) -> str:
        return iso_z(self._now_ms)

    def advance(self, ms: int) -> int:
        if ms < 0:
            raise ValueError("the emulated clock only moves forward")
        with self._lock:
            self._now_ms += int(ms)
            return self._now_ms
