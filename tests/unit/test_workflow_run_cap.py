"""Workflow-run windows are split on what is actually received at GitHub's 1,000-result cap, not on `total_count`.

GitHub serves at most 1,000 runs of a filtered listing and its `total_count` is not reliable past that (the
strict emulator reports at most 1,000). A server here holds 1,500 runs in the window, serves filtered listings
up to the cap with its `next` link vanishing there, and lies about `total_count` (it says 3): every run must
still land, and past the cap the walk goes on with `created` ending at the oldest run read, so no page is read
twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pyarrow.parquet as pq

from extractors.engine import extract_streams
from extractors.landing import read_manifest
from extractors.sources import build_source
from extractors.sources.github import parse_created_range
from extractors.streams import Window
from tests.scripted_server import ScriptedServer

END = datetime(2026, 11, 20, tzinfo=UTC)
RUNS = [{"id": 1_000_000 + i, "name": "CI", "status": "completed", "conclusion": "success", "head_branch": "main",
         "event": "push", "run_attempt": 1, "workflow_id": 7,
         "created_at": (END - timedelta(minutes=25 * (i + 1))).strftime("%Y-%m-%dT%H:%M:%SZ")}
        for i in range(1500)]  # one every 25 minutes: 1,500 within the last 27 days
for run in RUNS:
    run["updated_at"] = run["run_started_at"] = run["created_at"]


def lying_github(total_count: int | None):
    served: list[tuple[str, int]] = []

    def reply(method, path, body, headers):
        url = urlsplit(path)
        query = dict(parse_qsl(url.query))
        start, end = parse_created_range(query["created"])
        matching = sorted((r for r in RUNS if start <= datetime.fromisoformat(r["created_at"]) < end),
                          key=lambda r: r["created_at"], reverse=True)[:1000]  # the cap
        per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
        items = matching[(page - 1) * per_page: page * per_page]
        served.append((query["created"], len(items)))
        headers_out = {}
        if page * per_page < len(matching):  # no `next` at the cap
            nxt = urlencode({**query, "page": page + 1})
            headers_out["Link"] = f'<{server.base_url}{url.path}?{nxt}>; rel="next"'
        count = len(matching) if total_count is None else total_count
        return 200, headers_out, {"total_count": count, "workflow_runs": items}

    server = ScriptedServer(reply)
    return server, served


def extract_runs(server: ScriptedServer, tmp_path) -> list[dict]:
    source = build_source("github", {"base_url": server.base_url, "repos": ["acme/api"], "token": "t"})
    stream = source.stream("workflow_runs")
    window = {"acme/api": Window(start=END - timedelta(days=30), end=END)}
    result = extract_streams(source.client(), [stream], {"workflow_runs": window}, tmp_path)[0]
    manifest = read_manifest(result.batch_dir)
    return pq.read_table([str(result.batch_dir / f) for f in manifest["files"]]).to_pylist()


def test_windows_split_on_pages_received_when_total_count_lies(tmp_path):
    server, served = lying_github(total_count=3)
    with server:
        landed = extract_runs(server, tmp_path)
    assert {int(r["id"]) for r in landed} == {r["id"] for r in RUNS}
    per_window: dict[str, int] = {}
    for created, n in served:
        per_window[created] = per_window.get(created, 0) + n
    assert max(per_window.values()) == 1000, "the first window was read up to the cap, whatever total_count said"
    assert len(per_window) == 2, "past the cap the walk went on once, with `created` ending at the oldest run read"
    # Only the boundary second (the oldest run read, kept in the next window) is read twice; nothing is thrown away.
    assert sum(n for _, n in served) == len(RUNS) + 1


def test_a_count_at_the_cap_on_a_full_first_page_splits_at_once(tmp_path):
    server, served = lying_github(total_count=None)  # the true count, at most 1,000 (GitHub's behaviour)
    with server:
        landed = extract_runs(server, tmp_path)
    assert {int(r["id"]) for r in landed} == {r["id"] for r in RUNS}
    assert sum(n for _, n in served) == len(RUNS) + 1, "no page read at the cap is thrown away and re-read"
    assert len(served) == 10 + 6, "10 pages up to the cap, then the 501 runs left (boundary second included)"
