"""`opskpi run`'s request table shows GitHub's GraphQL points per stream; a quota wait is one readable line."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import duckdb

from opskpi.cli import stream_summary
from opskpi.load import ensure_meta
from opskpi.pipeline import log_progress


def test_request_table_has_points_for_github_streams(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        ensure_meta(con)
        for batch, source, stream, requests, points in (("b1", "github", "pulls", 60, 120),
                                                         ("b2", "github", "pulls", 2, 4),
                                                         ("b3", "jira", "issues", 9, 0)):
            con.execute("INSERT INTO meta.batches VALUES (?, ?, ?, 'run-1', 'loaded', 5, 5, ?, ?, now(), ?)",
                        [batch, source, stream, requests, requests, json.dumps({"points": points})])
    lines = stream_summary(SimpleNamespace(warehouse_path=warehouse), "run-1")
    assert lines[0].split() == ["stream", "requests", "points", "pages", "records", "changed"]
    assert lines[1].split() == ["github__pulls", "62", "124", "62", "10", "10"]
    assert lines[2].split() == ["jira__issues", "9", "9", "5", "5"]  # REST: no points


def test_a_quota_wait_is_logged_with_its_reset_time(caplog):
    caplog.set_level(logging.INFO)
    log_progress({"event": "waiting", "stream": "github__pulls", "resource": "graphql", "wait_s": 1800.0,
                  "reset_at": "2026-11-20T07:00:00Z"})
    assert "github__pulls: graphql quota spent, waiting 1800.0 s for its reset at 2026-11-20T07:00:00Z" in caplog.text
