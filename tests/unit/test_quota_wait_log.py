"""A quota wait is one readable line (the points per source are in tests/unit/test_console.py)."""

from __future__ import annotations

import logging

from opskpi.pipeline import log_progress


def test_a_quota_wait_is_logged_with_its_reset_time(caplog):
    caplog.set_level(logging.INFO)
    log_progress({"event": "waiting", "stream": "github__pulls", "resource": "graphql", "wait_s": 1800.0,
                  "reset_at": "2026-11-20T07:00:00Z"})
    assert "github__pulls: graphql quota spent, waiting 1800.0 s for its reset at 2026-11-20T07:00:00Z" in caplog.text
