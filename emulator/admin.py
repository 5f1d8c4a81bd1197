"""Unauthenticated control endpoints under `/__emulator/`: health, clock advance, request statistics, faults
and run-time settings (latency, clock ticks, rate limits).

They sit outside the three API prefixes so no real client can reach them by accident, and they need no
credentials because tests and the demo drive them directly.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from emulator.routing import Request, Response, Router, json_response
from emulator.timefmt import DAY, HOUR, MINUTE, SECOND, iso_z

if TYPE_CHECKING:
    from emulator.server import EmulatorApp

_UNITS = {"days": DAY, "hours": HOUR, "minutes": MINUTE, "seconds": SECOND}


class AdminApi:
    name = "__emulator"

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app
        self.router = Router()
        self.router.add("GET", "/health", self.health)
        self.router.add("GET", "/stats", self.stats)
        self.router.add("POST", "/reset-stats", self.reset_stats)
        self.router.add("POST", "/advance", self.advance)
        self.router.add("GET", "/faults", self.get_faults)
        self.router.add("POST", "/faults", self.set_faults)
        self.router.add("GET", "/settings", self.get_settings)
        self.router.add("POST", "/settings", self.set_settings)
        self.router.add("POST", "/warm", self.warm)

    def health(self, req: Request) -> Response:
        return json_response(
            200,
            {
                "status": "ok",
                "now": self.app.clock.iso(),
                "seed": self.app.config.seed,
                "scale": self.app.config.scale,
            },
        )

    def stats(self, req: Request) -> Response:
        return json_response(200, self.app.stats.snapshot())

    def reset_stats(self, req: Request) -> Response:
        self.app.stats.reset()
        return json_response(200, {"status": "ok"})

    def advance(self, req: Request) -> Response:
        try:
            body = req.json_body()
            if not isinstance(body, dict) or not set(body) & set(_UNITS) or set(body) - set(_UNITS):
                raise ValueError
            ms = sum(int(float(body.get(unit, 0)) * size) for unit, size in _UNITS.items())
            if ms < 0:
                raise ValueError
        except (ValueError, TypeError, UnicodeDecodeError):
            return json_response(
                400, {"error": 'expected JSON like {"days": 1} or {"hours": 6}; time only moves forward'}
            )
        now = self.app.clock.advance(ms)
        return json_response(200, {"now": iso_z(now)})

    def warm(self, req: Request) -> Response:
        """Build now what a sharded scale builds on first use (every repository's pulls and deployments), where it
        fits in memory: a benchmark calls it before its timed stages, so the emulator's own generation work (CPU on
        the machine the extract is timed on, which a real API never costs it) lands in no stage of either side."""
        warm = getattr(self.app.world.github, "warm", None)
        started = time.process_time()
        built = warm() if warm is not None else {}
        return json_response(200, {"built": built, "cpu_s": round(time.process_time() - started, 2)})

    def get_faults(self, req: Request) -> Response:
        return json_response(200, self.app.faults.snapshot())

    def set_faults(self, req: Request) -> Response:
        """`{"rate": 0.2, "kinds": ["429", "reset"], "seed": 7}`: any subset; a seed restarts the sequence."""
        try:
            body = req.json_body()
            allowed = {"rate", "kinds", "seed", "delay_s", "retry_after_s"}
            if not isinstance(body, dict) or set(body) - allowed:
                raise ValueError(f"expected a JSON object with keys among {sorted(allowed)}")
            self.app.faults.update(**body)
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(200, self.app.faults.snapshot())

    def get_settings(self, req: Request) -> Response:
        return json_response(200, self.app.settings())

    def set_settings(self, req: Request) -> Response:
        """`{"latency_ms": 50, "tick_ms": 1000, "github_rate_limit": 100, "jira_burst": 5, "retry_after_s": 2,
        "github_secondary": {"status": 429, "refuse_next": 1}}`: any subset (see EmulatorApp.settings)."""
        try:
            body = req.json_body()
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
            return json_response(200, self.app.settings(**body))
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            return json_response(400, {"error": str(exc)})

    def not_found(self, req: Request) -> Response:
        return json_response(404, {"error": f"no admin endpoint {req.method} {req.path}"})
