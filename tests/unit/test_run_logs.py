"""Progress while a stream reads, and the run's JSON lines log: what an operator watches and greps."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from extractors import engine
from extractors.engine import extract_stream
from extractors.http import HttpClient, RetryPolicy
from extractors.pagination import PageRequest, TokenPaginator
from extractors.streams import Column, Stream, Window
from opskpi.pipeline import log_progress
from opskpi.runlog import log_path, step_logging

WINDOW = Window(start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 3, 1, tzinfo=UTC))
STREAM = Stream(source="t", name="items", columns=(Column("id"),), primary_key=("id",), records_key="issues",
                paginator=lambda: TokenPaginator(page_size=2),
                requests=lambda p, w: [PageRequest("POST", "/search/jql", json_body={"jql": "x"})])


def _read_four_pages_with_one_429(tmp_path):
    """Four pages of two records; the second page's first try answers 429 (a rate-limit wait and a retry)."""
    from tests.scripted_server import ScriptedServer

    tokens, limited = [None, "t1", "t2", "t3"], []

    def handler(method, path, body, headers):
        token = body.get("nextPageToken")
        if token == "t1" and not limited:
            limited.append(1)
            return 429, {"Retry-After": "0"}, {"errorMessages": ["slow down"]}
        n = tokens.index(token)
        reply = {"issues": [{"id": f"{n}-{k}"} for k in range(2)], "isLast": n == 3}
        if n < 3:
            reply["nextPageToken"] = tokens[n + 1]
        return 200, {}, reply

    events = []
    with ScriptedServer(handler) as server:
        client = HttpClient(server.base_url, sleep=lambda s: None, retry=RetryPolicy(max_attempts=3))
        extract_stream(client, STREAM, {"": WINDOW}, tmp_path, progress=events.append)
    return events


def test_a_reading_stream_reports_running_totals_then_its_end(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "PROGRESS_EVERY_S", 0.0)  # report after every page
    events = _read_four_pages_with_one_429(tmp_path)
    reading = [e for e in events if e["event"] == "reading"]
    assert [(e["pages"], e["rows"]) for e in reading] == [(1, 2), (2, 4), (3, 6), (4, 8)]
    assert [e["event"] for e in events] == ["reading"] * 4 + ["partition", "done"]
    done = events[-1]
    assert done["stream"] == "t__items" and done["partition"] is None
    assert (done["pages"], done["rows"], done["requests"], done["retries"], done["rate_limit_waits"]) == \
        (4, 8, 5, 1, 1)
    assert reading[0]["rate_limit_waits"] == 0 and reading[1]["rate_limit_waits"] == 1


def test_running_totals_are_throttled(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "PROGRESS_EVERY_S", 3600.0)
    events = _read_four_pages_with_one_429(tmp_path)
    assert [e["event"] for e in events] == ["partition", "done"]


def test_progress_lines_read_well_and_keep_the_numbers(caplog):
    caplog.set_level(logging.INFO, logger="opskpi")
    log_progress({"event": "reading", "stream": "github__pulls", "partition": "acme/api", "pages": 12,
                  "rows": 1180, "requests": 14, "not_modified": 2, "retries": 1, "rate_limit_waits": 1,
                  "waited_s": 3.0, "seconds": 12.5})
    log_progress({"event": "partition", "stream": "github__pulls", "partition": "acme/api", "pages": 12,
                  "rows": 1180, "status": "not_enabled"})
    first, second = caplog.records
    assert first.getMessage() == ("github__pulls[acme/api]: reading, 12 pages, 1,180 records, 14 requests "
                                  "(2 not modified, 1 retried), 1 rate-limit waits (3.0 s), 12.5 s")
    assert first.progress["rows"] == 1180
    assert second.getMessage() == "github__pulls[acme/api]: partition read (not_enabled), 12 pages, 1,180 records"


def test_a_step_appends_json_lines_tagged_with_the_run_id(tmp_path):
    run_id = "scheduled__2026-11-19T00:00:00+00:00"
    step_log = logging.getLogger("opskpi.pipeline")
    with step_logging(tmp_path, run_id, "extract", source="github", partition="acme/api") as path:
        step_log.info("hello %s", "world", extra={"progress": {"pages": 3}})
        logging.getLogger("extractors.http").warning("HTTP 502; retry 1")
    with pytest.raises(RuntimeError), step_logging(tmp_path, run_id, "load"):
        raise RuntimeError("the warehouse refused batch 7")
    step_log.info("after the steps: not part of the run")

    assert path == log_path(tmp_path, run_id) and path.name == "scheduled__2026-11-19T00_00_00_00_00.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["step"], e["logger"], e["message"]) for e in lines] == [
        ("extract", "opskpi.pipeline", "hello world"),
        ("extract", "extractors.http", "HTTP 502; retry 1"),
        ("load", "opskpi.runlog", "load failed: RuntimeError: the warehouse refused batch 7"),
    ]
    assert {e["run_id"] for e in lines} == {run_id}
    assert (lines[0]["source"], lines[0]["partition"], lines[0]["progress"]) == ("github", "acme/api", {"pages": 3})
    assert lines[2]["source"] is None and lines[2]["level"] == "ERROR"
    assert not any(isinstance(h, logging.FileHandler) for h in logging.getLogger("opskpi").handlers)
