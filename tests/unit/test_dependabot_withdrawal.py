"""Withdrawn Dependabot alerts, emulator and extractor: what GitHub does (changelog 2026-10-13, "Improved detection
for withdrawn Dependabot alerts": a withdrawn alert leaves every list and its URL answers 410 Gone instead of 404) and
the complete `state=open` walk that lets the warehouse see it (extractors/sources/github_security.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
import requests

from emulator.server import start_emulator
from extractors.engine import extract_streams
from extractors.http import ExtractError
from extractors.sources import build_source
from extractors.streams import Window
from opskpi.load import VALIDATION_FILE, load_pending

GH = {"Authorization": "Bearer gh-demo-token"}
NOW = "2026-11-20T06:00:00Z"
START = datetime(2026, 11, 20, 6, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def emu():
    with start_emulator(seed=42, now=NOW, port=0) as server:
        yield server


def planted(emu):
    """(repo full name, number) of the alert the generator withdraws (18 h after the start clock)."""
    api = emu.app.apis["github"]
    routes = next(r.handler.__self__ for r in api.router._routes if r.template.endswith("/dependabot/alerts"))
    hits = [(api.data.repos[index].full_name, alert.number)
            for (index, tool), alerts in routes.data.alerts.items() if tool == "dependabot"
            for alert in alerts if alert.scenario == "withdrawn"]
    assert len(hits) == 1, hits
    return hits[0]


def open_numbers(emu, repo: str) -> set[int]:
    numbers, url = set(), f"{emu.github_url}/repos/{repo}/dependabot/alerts"
    params: dict | None = {"state": "open", "per_page": 100}
    while url:
        response = requests.get(url, headers=GH, params=params, timeout=10)
        response.raise_for_status()
        numbers |= {a["number"] for a in response.json()}
        url, params = response.links.get("next", {}).get("url"), None
    return numbers


def get_alert(emu, repo: str, number: int) -> requests.Response:
    return requests.get(f"{emu.github_url}/repos/{repo}/dependabot/alerts/{number}", headers=GH, timeout=10)


def test_an_alert_is_withdrawn_like_github_withdraws_it(emu):
    repo, number = planted(emu)
    # beside it, about one advisory in ten has no patched version yet (open_without_patch counts them)
    patched = [a["security_vulnerability"]["first_patched_version"] for a in requests.get(
        f"{emu.github_url}/repos/acme/api/dependabot/alerts", headers=GH, params={"per_page": 100}, timeout=10).json()]
    assert 0 < patched.count(None) < len(patched) / 4
    assert all(p is None or p == {"identifier": "2.4.1"} for p in patched)
    before = get_alert(emu, repo, number)
    assert before.status_code == 200 and before.json()["state"] == "open"
    assert before.json()["security_advisory"]["withdrawn_at"] is None
    assert number in open_numbers(emu, repo)

    emu.advance(hours=13)  # the advisory is withdrawn (12 h), the alert not yet (18 h)
    listed = get_alert(emu, repo, number).json()
    assert listed["security_advisory"]["withdrawn_at"] == "2026-11-20T18:00:00Z"
    assert listed["updated_at"] == before.json()["updated_at"], "a withdrawal does not move updated_at"
    assert number in open_numbers(emu, repo)

    emu.advance(hours=6)
    gone = get_alert(emu, repo, number)
    assert gone.status_code == 410, gone.text
    assert gone.json()["message"] == "This alert has been withdrawn and is no longer available."
    assert number not in open_numbers(emu, repo)
    every_state = requests.get(f"{emu.github_url}/repos/{repo}/dependabot/alerts", headers=GH,
                               params={"state": "open,fixed,dismissed,auto_dismissed", "per_page": 100}, timeout=10)
    assert number not in {a["number"] for a in every_state.json()}
    # one that never existed is still a 404, so the two can be told apart
    assert get_alert(emu, repo, 99999).status_code == 404
    assert get_alert(emu, repo, "abc").status_code == 404


def walk(emu, tmp_path, end: datetime, run_id: str, con, fail_after_pages: int | None = None):
    """Extract the withdrawal check for acme/api and acme/web, validate (as the guard would) and load it."""
    src = build_source("github", {"base_url": emu.github_url, "token": "gh-demo-token",
                                  "repos": ["acme/api", "acme/web"], "page_size": 5})
    stream = src.stream("dependabot_open_alerts")
    windows = {stream.name: {p.id: Window(end - timedelta(days=1), end, resumed=True) for p in stream.partitions}}
    client = src.client()
    if fail_after_pages is not None:  # the API fails for good in the middle of the walk (retries spent)
        served, request_json = [0], client.request_json

        def failing(*args, **kwargs):
            served[0] += 1
            if served[0] > fail_after_pages:
                raise ExtractError("HTTP 502 after 5 attempts")
            return request_json(*args, **kwargs)

        client.request_json = failing
    result = extract_streams(client, [stream], windows, tmp_path / "landing", run_id=run_id)[0]
    (result.batch_dir / VALIDATION_FILE).write_text(json.dumps({"success": True}))
    load_pending(con, tmp_path / "landing", [("github", "dependabot_open_alerts")])
    return result


def test_the_open_walk_lists_every_open_alert_each_run_and_a_failed_walk_lands_nothing(emu, tmp_path):
    repo, number = planted(emu)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    first = walk(emu, tmp_path, START, "r1", con)
    assert first.manifest["partitions"][repo]["status"] == "ok"
    listed = dict(con.execute("SELECT number, listed_at FROM raw.github__dependabot_open_alerts WHERE repo = ?",
                              [repo]).fetchall())
    assert set(listed) == open_numbers(emu, repo) and number in listed
    assert set(listed.values()) == {START}
    assert first.manifest["partitions"][repo]["pages"] == -(-len(listed) // 5) > 1  # read to its end

    emu.advance(days=1)
    # a walk cut by errors lands nothing, so it can never make an alert look withdrawn
    with pytest.raises(ExtractError, match="502"):
        walk(emu, tmp_path / "failed", START + 24 * HOUR, "r2-failed", con, fail_after_pages=2)
    assert not list((tmp_path / "failed" / "landing").rglob("_manifest.json")), "a cut walk lands no batch"
    assert con.execute("SELECT count(*) FROM meta.stream_coverage WHERE run_id = 'r2-failed'").fetchone() == (0,)

    walk(emu, tmp_path, START + 24 * HOUR, "r2", con)
    after = dict(con.execute("SELECT number, listed_at FROM raw.github__dependabot_open_alerts WHERE repo = ?",
                             [repo]).fetchall())
    assert after[number] == START, "the withdrawn alert keeps the stamp of the last walk that listed it"
    assert {n for n, at in after.items() if at == START + 24 * HOUR} == open_numbers(emu, repo)
    assert con.execute("SELECT partition_id, status, window_end FROM meta.stream_coverage WHERE run_id = 'r2' "
                       "ORDER BY 1").fetchall() == [("acme/api", "ok", START + 24 * HOUR),
                                                    ("acme/web", "ok", START + 24 * HOUR)]


def test_the_withdrawal_walk_runs_before_the_dependabot_walk():
    """An alert fixed between the two walks must be listed by the open walk (and its fix read by the later one), not
    missing from an open walk that ran after a read that still said open: that would read as a withdrawal."""
    from extractors.streams import families

    src = build_source("github", {"base_url": "http://x", "token": "t", "repos": ["o/r"]})
    order = [s.name for family in families(src.streams) for s in family]
    assert order.index("dependabot_open_alerts") < order.index("dependabot_alerts")

