"""The vendors' per-minute limits on the real clock (emulator/realtime.py), which wall-time benchmarks turn on.

A client that sends faster than PagerDuty's 960 requests a minute per key, or GitHub's 2,000 GraphQL points a minute
per token, looks fast against an emulator that lets it: these tests check that with `realtime_limits` the budget is
spent, the refusal is the vendor's (PagerDuty's 429 with `ratelimit-reset`, GitHub's secondary-limit 403 with
`retry-after` and quota left), the next minute refills it, and our HTTP client waits it out and loses nothing.
The budgets are shrunk for the test; the minute is a fake clock that moves when the client sleeps.
"""

from __future__ import annotations

import pytest
import requests

from emulator import realtime
from emulator.server import start_emulator
from extractors.http import HttpClient

GH = {"Authorization": "Bearer gh-demo-token", "Accept": "application/vnd.github+json"}
PD = {"Authorization": "Token token=pd-demo-token", "Accept": "application/vnd.pagerduty+json;version=2"}
NOW = "2026-11-20T06:00:00Z"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_budget_per_key_and_minute():
    clock = FakeClock()
    windows = realtime.MinuteWindows(clock=clock)
    assert [windows.take(("a",), 3) for _ in range(3)] == [None, None, None]
    clock.now += 20
    assert windows.take(("a",), 3) == pytest.approx(40), "refused until the key's minute ends"
    assert windows.take(("b",), 3) is None, "another key has its own budget"
    assert windows.take(("a",), 3, points=5) == pytest.approx(40)
    clock.now += 40
    assert windows.take(("a",), 3) is None, "a new minute, a full budget"
    assert windows.refused == 2


def test_off_by_default(monkeypatch):
    monkeypatch.setattr(realtime, "PAGERDUTY_LIMIT_PER_MINUTE", 2)
    with start_emulator(seed=1, now=NOW) as emu:
        codes = [requests.get(f"{emu.pagerduty_url}/services", headers=PD, timeout=10).status_code
                 for _ in range(4)]
        assert emu.app.settings()["realtime_limits"] is False
    assert codes == [200] * 4


def test_pagerduty_answers_429_with_the_seconds_left_in_the_minute(monkeypatch):
    monkeypatch.setattr(realtime, "PAGERDUTY_LIMIT_PER_MINUTE", 3)
    clock = FakeClock()
    with start_emulator(seed=1, now=NOW, realtime_limits=True) as emu:
        emu.app.realtime = realtime.MinuteWindows(clock=clock)
        answers = [requests.get(f"{emu.pagerduty_url}/services", headers=PD, timeout=10) for _ in range(4)]
        clock.now += 45
        refused = answers[-1]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert refused.headers["ratelimit-remaining"] == "0" and refused.headers["ratelimit-reset"] == "60"
        assert refused.json()["error"]["code"] == 2020
        assert requests.get(f"{emu.pagerduty_url}/services", headers=PD, timeout=10).status_code == 429
        clock.now += 15
        assert requests.get(f"{emu.pagerduty_url}/services", headers=PD, timeout=10).status_code == 200
        # refused requests are counted apart: what was served stays comparable between runs
        assert emu.stats()["pagerduty"] == {"GET /services": 4, "REFUSED /services": 2}


def test_github_graphql_and_rest_have_their_own_budgets(monkeypatch):
    monkeypatch.setattr(realtime, "GITHUB_GRAPHQL_POINTS", 2)
    monkeypatch.setattr(realtime, "GITHUB_REST_POINTS", 2)
    query = {"query": "query { viewer { login } }"}
    with start_emulator(seed=1, now=NOW, realtime_limits=True) as emu:
        emu.app.realtime = realtime.MinuteWindows(clock=FakeClock())
        graphql = [requests.post(f"{emu.github_url}/graphql", headers=GH, json=query, timeout=10)
                   for _ in range(3)]
        rest = [requests.get(f"{emu.github_url}/repos/acme/api", headers=GH, timeout=10) for _ in range(3)]
        other_endpoint = requests.get(f"{emu.github_url}/repos/acme/api/pulls", headers=GH, timeout=10)
    assert [r.status_code for r in graphql] == [200, 200, 403]
    assert [r.status_code for r in rest] == [200, 200, 403]
    assert other_endpoint.status_code == 200, "REST points are counted per endpoint"
    for refused, resource in ((graphql[-1], "graphql"), (rest[-1], "core")):
        assert "secondary rate limit" in refused.json()["message"]
        assert refused.headers["retry-after"] == "60"
        assert int(refused.headers["x-ratelimit-remaining"]) > 0, "quota left: a secondary limit, not a spent quota"
        assert refused.headers["x-ratelimit-resource"] == resource


def test_our_client_waits_out_the_minute_and_loses_nothing(monkeypatch):
    monkeypatch.setattr(realtime, "PAGERDUTY_LIMIT_PER_MINUTE", 2)
    clock = FakeClock()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.now += seconds

    with start_emulator(seed=1, now=NOW, realtime_limits=True) as emu:
        emu.app.realtime = realtime.MinuteWindows(clock=clock)
        client = HttpClient(emu.pagerduty_url, headers=PD, sleep=sleep)
        bodies = [client.request_json("GET", "/services")[0] for _ in range(5)]
    assert all(b["services"] for b in bodies)
    assert len(waits) == 2 and all(55 <= w <= 62 for w in waits), waits
    assert client.stats.rate_limit_waits == 2
