"""Start-up settings shared by the CLI and the Python API, with the documented defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.auth import Credentials
from emulator.generator import DEFAULT_JIRA_TIME_ZONE, DEFAULT_PAGERDUTY_TIME_ZONE, DEFAULT_PROFILE

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_SEED = 42
DEFAULT_NOW = "2026-11-20T06:00:00Z"
DEFAULT_SCALE = "demo"


@dataclass(frozen=True)
class EmulatorConfig:
    seed: int = DEFAULT_SEED
    now: str = DEFAULT_NOW
    scale: str = DEFAULT_SCALE
    profile: str = DEFAULT_PROFILE
    credentials: Credentials = field(default_factory=Credentials)
    jira_time_zone: str = DEFAULT_JIRA_TIME_ZONE
    pagerduty_time_zone: str = DEFAULT_PAGERDUTY_TIME_ZONE
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = ()  # empty: every kind
    fault_seed: int = 0
    fault_delay_s: float = 2.0
    latency_ms: float = 0.0  # added to every API request (not to /__emulator)
    counts: tuple[tuple[str, int], ...] = ()  # explicit record counts overriding the scale preset
    jira_burst: int | None = None  # None: EMULATOR_JIRA_BURST or off
    github_rate_limit: int = 5000  # primary budget per token per emulated hour
    github_secondary: int | None = None  # 403 or 429: refuse every `github_secondary_every`th request
    github_secondary_every: int = 0
    retry_after_s: int = 1  # Retry-After of the Jira burst limit and GitHub's secondary limit
    # Vendor rules (emulator/strict.py): strict unless a test needs the old kindness (`--lenient`).
    strict: bool = True
    pagerduty_no_teams: bool = False  # an account without the Teams feature: /teams answers 402
    github_graphql_points: int | None = None  # GraphQL points per token per emulated hour (None: GitHub's 5,000)
    realtime_limits: bool = False  # the vendors' per-minute limits on the real clock (emulator/realtime.py)
    clock_rate: float = 0.0  # > 0: emulated seconds per real second besides explicit advances (quota-wait tests)
