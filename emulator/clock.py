"""The emulated clock: the only source of "now" inside the emulator.

Responses must be byte-identical for the same seed and clock, so nothing may read the wall clock. Handlers
read `now_ms` once per request so a single response is internally consistent even while an admin call advances
time. The clock only moves forward: going back would make already-extracted records vanish, which no real API
does.

`rate` > 0 makes the clock also run on its own, `rate` emulated seconds per real second (`--clock-rate 3600`: an
emulated hour per second), so a client can wait through an hourly quota reset in seconds; responses then depend
on when they are asked, so tests that compare bytes keep the default 0 (a clock that moves only when told)."""

from __future__ import annotations

import threading
import time

from emulator.timefmt import iso_z, parse_iso


class Clock:
    def __init__(self, start: str | int, rate: float = 0.0) -> None:
        if rate < 0:
            raise ValueError("the clock rate must not be negative")
        self._now_ms = parse_iso(start) if isinstance(start, str) else int(start)
        self.start_ms = self._now_ms
        self.rate = float(rate)
        self._started = time.monotonic()
        self._lock = threading.Lock()

    @property
    def now_ms(self) -> int:
        if not self.rate:
            return self._now_ms
        return self._now_ms + int((time.monotonic() - self._started) * self.rate * 1000)

    def iso(self) -> str:
        return iso_z(self._now_ms)

    def advance(self, ms: int) -> int:
        if ms < 0:
            raise ValueError("the emulated clock only moves forward")
        with self._lock:
            self._now_ms += int(ms)
            return self.now_ms
