"""Bulk scales: `python -m emulator --scale large` starts in seconds with bounded memory, and the common sorted
walks stay fast (the answer of a query is computed once per clock value; every later page is a slice)."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from emulator.server import start_emulator
from emulator.timefmt import DAY, parse_iso
from emulator.timeline import SCALES

pytestmark = pytest.mark.referee

NOW = "2026-11-20T06:00:00Z"
PD = {"Authorization": "Token token=pd-demo-token"}
GH = {"Authorization": "token gh-demo-token"}
JIRA = {"Authorization": "Basic " + base64.b64encode(b"demo@example.com:jira-demo-token").decode()}


def _start(args: list[str]) -> tuple[subprocess.Popen, str, float]:
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", "0", "--profile", "stress", *args],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # printed once the socket accepts connections
    assert line.startswith("emulator listening on "), line + proc.stderr.read()
    return proc, line.split()[-1], time.monotonic() - started


def _stop(proc: subprocess.Popen) -> int:
    """Stop the emulator and return its own peak RSS in MB (VmHWM: RUSAGE_CHILDREN would report the
    largest of every child this test session ever waited for, dbt and Airflow included)."""
    peak_kb = 0
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = int(line.split()[1])
    proc.terminate()
    proc.wait(timeout=30)
    return peak_kb // 1024


@pytest.mark.slow
def test_large_starts_fast_with_bounded_memory_and_pages_fast():
    proc, base, seconds = _start(["--scale", "large"])
    try:
        # Timings are reported, never asserted (project rule; CI machines are shared): see bench/.
        print(f"large started in {seconds:.1f} s")
        world = requests.get(f"{base}/__emulator/health", timeout=10).json()
        assert world["scale"] == "large"
        # Incidents, created-sorted in a window: each page is a slice.
        pages = []
        for offset in (0, 100, 200, 5000, 9900):
            t = time.monotonic()
            r = requests.get(f"{base}/pagerduty/incidents", headers=PD, timeout=60, params={
                "since": "2026-06-01T00:00:00Z", "until": "2026-11-20T00:00:00Z", "limit": 100, "offset": offset,
                "total": "true", "time_zone": "UTC", "sort_by": "created_at:asc"})
            pages.append(time.monotonic() - t)
            assert r.status_code == 200 and len(r.json()["incidents"]) == 100
        assert r.json()["total"] > 40_000
        print(f"incident page times: {pages}")
        # Jira: the extractor's incremental query, then its next pages.
        jql = "project in (OPS, WEB, PAY) AND updated >= -2d ORDER BY updated ASC, key ASC"
        body = {"jql": jql, "fields": ["summary", "status", "updated", "created"], "expand": "changelog",
                "maxResults": 100}
        first = requests.post(f"{base}/jira/rest/api/3/search/jql", json=body, headers=JIRA, timeout=120).json()
        t = time.monotonic()
        second = requests.post(f"{base}/jira/rest/api/3/search/jql", headers=JIRA, timeout=60,
                               json={**body, "nextPageToken": first["nextPageToken"]})
        assert second.status_code == 200
        print(f"jira next page: {time.monotonic() - t:.2f} s")
        # GitHub: one repository of 160 is built on first use; its later pages are slices.
        first_page = requests.get(f"{base}/github/repos/acme/api-7/pulls", headers=GH, timeout=120,
                                  params={"state": "all", "sort": "updated", "direction": "desc", "per_page": 100})
        assert first_page.status_code == 200 and len(first_page.json()) == 100
        t = time.monotonic()
        later = requests.get(f"{base}/github/repos/acme/api-7/pulls", headers=GH, timeout=60, params={
            "state": "all", "sort": "updated", "direction": "desc", "per_page": 100, "page": 10})
        assert later.status_code == 200
        print(f"github later page: {time.monotonic() - t:.2f} s")
    finally:
        peak_mb = _stop(proc)
    assert peak_mb < 1500, f"peak RSS {peak_mb} MB"


def test_medium_counts_and_lazy_records():
    """medium: ~1/10 of large, built per record; counts at the start clock match the preset."""
    with start_emulator(seed=42, now=NOW, scale="medium", profile="stress") as emu:
        world, now = emu.app.world, emu.app.clock.now_ms
        assert world.scale.lazy and SCALES["medium"].history_days == 365
        incidents = world.pagerduty.index_range(now - 365 * DAY, now + 1)
        assert 9_000 <= len(incidents) <= 11_500
        issues = sum(1 for sk in world.jira.skeleton if sk.created_ms <= now)
        assert 18_000 <= issues <= 22_500
        r = requests.get(f"{emu.pagerduty_url}/incidents", headers=PD, timeout=30,
                         params={"date_range": "all", "total": "true", "limit": 1})
        assert r.json()["total"] == len(world.pagerduty.index_range(-(2**62), now + 1))


def test_explicit_counts():
    counts = {"incidents": 3000, "pulls": 2000, "repos": 8}
    with start_emulator(seed=42, now=NOW, counts=counts, profile="stress") as emu:
        world, now = emu.app.world, emu.app.clock.now_ms
        assert len(world.github.repos) == 8
        start = now - world.scale.history_days * DAY
        assert 2_500 <= len(world.pagerduty.index_range(start, now + 1)) <= 3_500
        total = requests.get(f"{emu.pagerduty_url}/incidents", headers=PD, timeout=30,
                             params={"date_range": "all", "total": "true", "limit": 1}).json()["total"]
        assert total >= 2_500
    assert parse_iso(NOW)
