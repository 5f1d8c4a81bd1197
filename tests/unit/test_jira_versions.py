"""Jira project versions: the emulator's `GET /project/{key}/version` (paging, caps, order, filters, errors, auth)
and the extractor's `versions` stream (the `jira` SDK's referee walk: tests/referees/test_jira_referee.py).

Hand-computed (emulator/gen_jira_versions.py): WEB's train leaves every 14 days from Thursday 2026-01-01, version id
30000 + the train's number; released at 12:00 UTC on its day. Seed 42's history starts 2026-07-22 (day 202 of 2026),
so the first version is train 15 = 2026-07-30 (id 30015). At 2026-11-19 06:00 the trains up to 2026-11-05 (23 - 1)
are released and 2026-11-19 (train 23, id 30023) exists but is not released yet: 9 versions, 8 released.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
import requests

from emulator.gen_jira_versions import project_versions
from emulator.server import start_emulator
from extractors.engine import extract_streams
from extractors.landing import read_manifest
from extractors.sources import build_source
from extractors.streams import Window

AUTH = ("demo@example.com", "jira-demo-token")
NOW = "2026-11-19T06:00:00Z"
IDS = [str(30015 + n) for n in range(9)]


@pytest.fixture(scope="module")
def emu():
    with start_emulator(seed=42, now=NOW) as handle:
        yield handle


def get(emu, path: str, auth=AUTH, **params) -> requests.Response:
    return requests.get(f"{emu.jira_url}/rest/api/3{path}", auth=auth, params=params, timeout=30)


def walk(emu, key: str, size: int, **params) -> tuple[list[dict], int]:
    values, pages, start = [], 0, 0
    while True:
        body = get(emu, f"/project/{key}/version", startAt=start, maxResults=size, **params).json()
        pages += 1
        assert (body["startAt"], body["maxResults"], body["total"]) == (start, size, 9)
        values += body["values"]
        if body["isLast"]:
            assert "nextPage" not in body
            return values, pages
        assert body["nextPage"].endswith(f"startAt={start + len(body['values'])}&maxResults={size}")
        start += len(body["values"])


def test_pages_in_sequence_order(emu):
    values, pages = walk(emu, "WEB", 4)
    assert pages == 3  # 4 + 4 + 1
    assert [v["id"] for v in values] == IDS
    assert [v["name"] for v in values[:2]] == ["2026.07.30", "2026.08.13"]
    assert [v["released"] for v in values] == [True] * 8 + [False]
    last = values[-1]
    assert (last["releaseDate"], last["userReleaseDate"], last["projectId"], last["overdue"], last["archived"]) == (
        "2026-11-19", "19/Nov/26", 10001, False, False)
    assert "overdue" not in values[0]  # only unreleased versions say whether they are overdue


def test_max_results_is_capped_at_50_and_defaults_to_50(emu):
    assert get(emu, "/project/WEB/version", maxResults=500).json()["maxResults"] == 50
    assert get(emu, "/project/WEB/version").json()["maxResults"] == 50
    assert get(emu, "/project/WEB/version", maxResults="x").status_code == 400


def test_project_by_id_and_a_project_without_versions(emu):
    assert [v["id"] for v in get(emu, "/project/10001/version").json()["values"]] == IDS
    body = get(emu, "/project/OPS/version").json()
    assert (body["total"], body["values"], body["isLast"]) == (0, [], True)


def test_unknown_or_miscased_project_is_404_in_jiras_shape(emu):
    for key in ("NOPE", "web"):  # projectIdOrKey is case sensitive
        resp = get(emu, f"/project/{key}/version")
        assert resp.status_code == 404
        assert resp.json() == {"errorMessages": [f"No project could be found with key '{key}'."], "errors": {}}


def test_auth_is_required(emu):
    assert get(emu, "/project/WEB/version", auth=None).status_code == 401
    assert get(emu, "/project/WEB/version", auth=(AUTH[0], "wrong")).status_code == 401


def test_order_and_filters(emu):
    newest = get(emu, "/project/WEB/version", orderBy="-releaseDate").json()["values"]
    assert [v["id"] for v in newest] == IDS[::-1]
    assert [v["id"] for v in get(emu, "/project/WEB/version", orderBy="-sequence").json()["values"]] == IDS[::-1]
    assert get(emu, "/project/WEB/version", orderBy="updated").status_code == 400
    assert [v["id"] for v in get(emu, "/project/WEB/version", status="unreleased").json()["values"]] == ["30023"]
    assert get(emu, "/project/WEB/version", status="released,archived").json()["total"] == 8
    assert get(emu, "/project/WEB/version", status="shipped").status_code == 400
    assert [v["id"] for v in get(emu, "/project/WEB/version", query="2026.08").json()["values"]] == ["30016", "30017"]


def test_the_versions_agree_with_the_issues_fix_versions(emu):
    """Every fixVersions entry of a done WEB issue is the version the project lists, in the same state."""
    listed = {v["id"]: v for v in get(emu, "/project/WEB/version").json()["values"]}
    body = requests.post(f"{emu.jira_url}/rest/api/3/search/jql", auth=AUTH, timeout=30, json={
        "jql": "project = WEB AND statusCategory = Done ORDER BY key ASC", "fields": ["fixVersions"],
        "maxResults": 100}).json()
    entries = [v for issue in body["issues"] for v in issue["fields"]["fixVersions"]]
    assert entries
    for entry in entries:
        assert {k: listed[entry["id"]][k] for k in entry} == entry


def test_release_flips_at_noon_of_the_release_day_without_touching_the_issues():
    with start_emulator(seed=42, now=NOW) as emu:
        before = get(emu, "/project/WEB/version", status="unreleased").json()["values"]
        emu.advance(hours=6)  # 12:00: train 2026.11.19 leaves; train 2026.12.03 is created
        after = {v["id"]: v for v in get(emu, "/project/WEB/version").json()["values"]}
    assert [v["id"] for v in before] == ["30023"]
    assert after["30023"]["released"] is True
    assert (after["30024"]["releaseDate"], after["30024"]["released"]) == ("2026-12-03", False)


def test_copies_of_a_release_project_have_their_own_version_ids():
    start = int(datetime(2026, 7, 22, tzinfo=UTC).timestamp() * 1000)
    now = int(datetime(2026, 11, 19, 6, tzinfo=UTC).timestamp() * 1000)
    web, web2 = project_versions("WEB", start, now), project_versions("WEB2", start, now)
    assert [v.id for v in web] == IDS
    assert [v.id for v in web2] == [str(50015 + n) for n in range(9)]
    assert project_versions("OPS", start, now) == []


def test_the_versions_stream_reads_each_configured_release_project(emu, tmp_path):
    """Release projects WEB and OPS (no train: an empty page) are read; REL is not a configured project: not read."""
    src = build_source("jira", {"base_url": emu.jira_url, "email": AUTH[0], "token": AUTH[1],
                                "projects": ["OPS", "WEB"], "release_projects": ["WEB", "OPS", "REL"]})
    stream = next(s for s in src.streams if s.name == "versions")
    end = datetime(2026, 11, 19, 6, tzinfo=UTC)
    window = Window(end - timedelta(days=1), end)
    (result,) = extract_streams(src.client(), [stream], {"versions": {p.id: window for p in stream.partitions}},
                                tmp_path)
    assert result.requests == 2
    manifest = read_manifest(result.batch_dir)
    assert set(manifest["partitions"]) == {"WEB", "OPS"}, "a partition per release project: read in its task"
    rows = pq.read_table([str(result.batch_dir / f) for f in manifest["files"]]).to_pylist()
    assert [r["id"] for r in rows] == IDS
    assert [(r["project_id"], r["released"], r["release_date"]) for r in rows[-2:]] == [
        ("10001", "true", "2026-11-05"), ("10001", "false", "2026-11-19")]


def test_without_release_projects_nothing_is_requested(emu, tmp_path):
    src = build_source("jira", {"base_url": emu.jira_url, "email": AUTH[0], "token": AUTH[1], "projects": ["WEB"]})
    stream = next(s for s in src.streams if s.name == "versions")
    assert stream.partitions == ()
    (result,) = extract_streams(src.client(), [stream], {"versions": {}}, tmp_path)
    assert (result.requests, result.rows) == (0, 0)
