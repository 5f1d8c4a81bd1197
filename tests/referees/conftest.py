"""Referee tests: real SDKs and PagerDuty's OpenAPI document judge the emulator (see README.md here)."""

from __future__ import annotations

import pytest

from emulator.server import start_emulator

NOW = "2026-11-20T06:00:00Z"


@pytest.fixture(scope="session")
def emu():
    """One demo-scale emulator for the read-only referee walks (tests that move its clock start their own)."""
    with start_emulator(seed=42, now=NOW, profile="stress") as handle:
        yield handle
