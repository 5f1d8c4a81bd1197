"""GitHub security alert streams against the emulator: Dependabot's cursor-only paging, `page` refused, a disabled
scanner recorded as `not_enabled` without failing the run (the engine's generic `optional` hook), the loader's
meta.stream_coverage, and incremental reads that pick up state changes."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow.parquet as pq
import pytest
import requests

from emulator.gen_security import alert_state
from emulator.server import start_emulator
from extractors.engine import extract_streams
from extractors.http import PermissionDenied
from extractors.landing import read_manifest
from extractors.pagination import LinkHeaderPaginator, PageRequest
from extractors.sources import build_source
from extractors.streams import Window
from opskpi.load import VALIDATION_FILE, load_pending

GH = {"Authorization": "Bearer gh-demo-token"}
REPOS = ["acme/api", "acme/web", "acme/mobile", "acme/infra"]
NOW = "2026-11-20T06:00:00Z"
END = datetime(2026, 11, 20, 6, tzinfo=UTC)
ALERT_STREAMS = ("dependabot_alerts", "code_scanning_alerts", "secret_scanning_alerts")


@pytest.fixture(scope="module")
def emu():
    with start_emulator(seed=42, now=NOW, port=0, profile="stress") as server:
        yield server


def source(emu, **extra):
    return build_source("github", {"base_url": emu.github_url, "token": "gh-demo-token", "repos": REPOS, **extra})


def alert_streams(src):
    return [s for s in src.streams if s.name in ALERT_STREAMS]


def rows(result) -> list[dict]:
    manifest = read_manifest(result.batch_dir)
    return pq.read_table([str(result.batch_dir / f) for f in manifest["files"]]).to_pylist()


def emulated(emu, tool: str, repo: str) -> dict[int, str]:
    """number -> state of every alert the emulator shows at its clock (the independent answer)."""
    routes = _security_routes(emu)
    gh = routes.api.data
    index = next(r.index for r in gh.repos if r.full_name == repo)
    now_ms = int(END.timestamp() * 1000)
    out = {}
    for alert in routes.data.alerts.get((index, tool), ()):
        st = alert_state(alert, now_ms)
        if st is not None:
            out[alert.number] = st.state
    return out


def _updated(emu, tool: str, repo: str) -> dict[int, datetime]:
    """number -> `updated_at` of every alert the emulator shows at its clock."""
    routes = _security_routes(emu)
    index = next(r.index for r in routes.api.data.repos if r.full_name == repo)
    now_ms = int(END.timestamp() * 1000)
    out = {}
    for alert in routes.data.alerts.get((index, tool), ()):
        st = alert_state(alert, now_ms)
        if st is not None:
            out[alert.number] = datetime.fromtimestamp(st.updated_ms / 1000, UTC)
    return out


def _security_routes(emu):
    api = emu.app.apis["github"]
    for route in api.router._routes:
        if route.template.endswith("/dependabot/alerts"):
            return route.handler.__self__
    raise AssertionError("no dependabot route")


def test_dependabot_cursor_walk_returns_every_alert_once(emu):
    client = source(emu).client()
    paginator = LinkHeaderPaginator(per_page=7)
    page = paginator.first(PageRequest("GET", "/repos/acme/api/dependabot/alerts",
                                       (("sort", "updated"), ("direction", "desc"))))
    numbers, pages = [], 0
    while page is not None:
        assert page.param("page") is None and "&page=" not in page.path and "?page=" not in page.path
        body, response = client.request_json(page.method, page.path, params=list(page.params) or None)
        pages += 1
        numbers += [a["number"] for a in body]
        page = paginator.next(page, body, response)
    expected = emulated(emu, "dependabot", "acme/api")
    assert len(numbers) == len(set(numbers)), "an alert was served twice"
    assert set(numbers) == set(expected)
    assert pages == -(-len(expected) // 7) and pages > 10


def test_dependabot_before_cursor_walks_back(emu):
    url = f"{emu.github_url}/repos/acme/web/dependabot/alerts"
    first = requests.get(url, headers=GH, params={"per_page": 5}, timeout=10)
    second = requests.get(first.links["next"]["url"], headers=GH, timeout=10)
    back = requests.get(second.links["prev"]["url"], headers=GH, timeout=10)
    assert [a["number"] for a in back.json()] == [a["number"] for a in first.json()]
    assert "last" not in first.links and "&page=" not in first.links["next"]["url"]


def test_dependabot_page_parameter_is_refused(emu):
    response = requests.get(f"{emu.github_url}/repos/acme/api/dependabot/alerts", headers=GH,
                            params={"page": 2, "per_page": 10}, timeout=10)
    assert response.status_code == 400
    assert response.json()["message"] == "Pagination using the page parameter is not supported."


def test_disabled_scanners_answer_like_github(emu):
    code = requests.get(f"{emu.github_url}/repos/acme/mobile/code-scanning/alerts", headers=GH, timeout=10)
    secret = requests.get(f"{emu.github_url}/repos/acme/infra/secret-scanning/alerts", headers=GH, timeout=10)
    assert (code.status_code, code.json()["message"]) == (404, "no analysis found")
    assert (secret.status_code, secret.json()["message"]) == (404, "Secret scanning is disabled on this repository.")


def test_first_run_lands_every_alert_and_records_disabled_scanners(emu, tmp_path):
    src = source(emu)
    streams = alert_streams(src)
    windows = {s.name: {p.id: Window(END - timedelta(days=90), END) for p in s.partitions} for s in streams}
    results = {r.stream.split("__", 1)[1]: r for r in extract_streams(src.client(), streams, windows, tmp_path)}
    tools = {"dependabot_alerts": "dependabot", "code_scanning_alerts": "code_scanning",
             "secret_scanning_alerts": "secret_scanning"}
    for name, result in results.items():
        landed = rows(result)
        assert all(r["_problem"] is None for r in landed)
        assert not any("secret" in json.loads(r["record"]) for r in landed), "hide_secret=true keeps secrets out"
        for repo in REPOS:
            meta = result.manifest["partitions"][repo]
            disabled = (name, repo) in {("code_scanning_alerts", "acme/mobile"),
                                        ("secret_scanning_alerts", "acme/infra")}
            if disabled:
                assert meta["status"] == "not_enabled" and meta["status_code"] == 404 and meta["rows"] == 0
                continue
            assert meta["status"] == "ok"
            got = {int(r["number"]): r["state"] for r in landed if r["repo"] == repo}
            expected = emulated(emu, tools[name], repo)
            # every open alert whatever its age, and every alert updated in the 90-day window
            assert {n for n, s in expected.items() if s == "open"} <= set(got)
            assert {n for n, u in _updated(emu, tools[name], repo).items() if u >= END - timedelta(days=90)} <= set(got)
            assert got == {n: expected[n] for n in got}
            # the open backlog costs no second walk when the first one read the list to its end, and otherwise
            # re-reads no more than a page of what the first one read
            if len(expected) <= 100:
                assert meta["pages"] == 1, (name, repo)
            else:
                assert meta["pages"] <= math.ceil(meta["rows"] / 100) + 1, (name, repo)
    assert results["code_scanning_alerts"].manifest["partitions"]["acme/mobile"]["message"] == "no analysis found"


def test_a_required_stream_still_fails_on_404(emu, tmp_path):
    import dataclasses

    src = source(emu)
    stream = dataclasses.replace(src.stream("code_scanning_alerts"), optional=False)
    windows = {stream.name: {p.id: Window(END - timedelta(days=1), END) for p in stream.partitions}}
    with pytest.raises(PermissionDenied, match="no analysis found"):
        extract_streams(src.client(), [stream], windows, tmp_path)


def test_loader_keeps_coverage_per_partition(emu, tmp_path):
    src = source(emu)
    stream = src.stream("secret_scanning_alerts")
    windows = {stream.name: {p.id: Window(END - timedelta(days=30), END) for p in stream.partitions}}
    result = extract_streams(src.client(), [stream], windows, tmp_path / "landing", run_id="r1")[0]
    (result.batch_dir / VALIDATION_FILE).write_text(json.dumps({"success": True}))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_pending(con, tmp_path / "landing", [("github", "secret_scanning_alerts")])
    got = con.execute("SELECT partition_id, status, status_code, message, run_id FROM meta.stream_coverage "
                      "ORDER BY partition_id").fetchall()
    assert got == [("acme/api", "ok", None, None, "r1"),
                   ("acme/infra", "not_enabled", 404, "Secret scanning is disabled on this repository.", "r1"),
                   ("acme/mobile", "ok", None, None, "r1"), ("acme/web", "ok", None, None, "r1")]
    # the disabled partition has no watermark: the next run asks again
    marks = con.execute("SELECT partition_id FROM meta.watermarks ORDER BY 1").fetchall()
    assert ("acme/infra",) not in marks and ("acme/api",) in marks


def test_incremental_run_reads_little_and_sees_state_changes(tmp_path):
    with start_emulator(seed=42, now=NOW, port=0, profile="stress") as emu:
        src = source(emu)
        stream = src.stream("dependabot_alerts")
        first = extract_streams(src.client(), [stream],
                                {stream.name: {p.id: Window(END - timedelta(days=90), END) for p in stream.partitions}},
                                tmp_path / "a")[0]
        marks = {pid: m["max_cursor"] for pid, m in first.manifest["partitions"].items()}
        emu.advance(days=3)
        end = END + timedelta(days=3)
        client = src.client()
        second = extract_streams(
            client, [stream],
            {stream.name: {p.id: Window(datetime.fromisoformat(marks[p.id]) - timedelta(days=1), end, resumed=True)
                           for p in stream.partitions}},
            tmp_path / "b", etags={stream.name: first.manifest["etags"]})[0]
        changed = {(r["repo"], int(r["number"])): r["state"] for r in rows(second)}
        before = {(r["repo"], int(r["number"])): r["state"] for r in rows(first)}
        now_states = {}
        for repo in REPOS:
            routes = _security_routes(emu)
            index = next(r.index for r in routes.api.data.repos if r.full_name == repo)
            end_ms = int(end.timestamp() * 1000)
            for alert in routes.data.alerts[(index, "dependabot")]:
                st = alert_state(alert, end_ms)
                if st is not None:
                    now_states[(repo, alert.number)] = st.state
                    if alert.created_ms > END.timestamp() * 1000:
                        before.setdefault((repo, alert.number), "new")
        moved = {k for k, s in now_states.items() if k in before and before[k] != s}
        assert moved, "three days should change some alerts"
        assert moved <= set(changed), "every alert whose state changed (or that is new) is re-read"
        assert all(changed[k] == now_states[k] for k in changed)
        # one walk per repository (no `state=open` walk once resumed), each stopping on its first page
        assert second.requests == len(REPOS)
        # the first run's open-backlog walk only where its first walk was cut with pages left (one repository)
        assert len(REPOS) < first.requests < 2 * len(REPOS)
        assert Counter(json.loads(r["record"])["state"] for r in rows(second))
