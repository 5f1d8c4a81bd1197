"""The emulator is as strict as the vendors by default (emulator/strict.py); `lenient` restores the old kindness.

Each rule is checked both ways: the strict answer (the default) and the lenient one a test may still ask for, so
each test here fails on an emulator that is kinder than the vendor.
"""

from __future__ import annotations

import pytest
import requests

from emulator.server import start_emulator

GH = {"Authorization": "Bearer gh-demo-token", "Accept": "application/vnd.github+json"}
PD = {"Authorization": "Token token=pd-demo-token"}
NOW = "2026-11-20T06:00:00Z"


@pytest.fixture(scope="module")
def strict():
    with start_emulator(seed=42, now=NOW, profile="stress") as handle:
        yield handle


@pytest.fixture(scope="module")
def lenient():
    with start_emulator(seed=42, now=NOW, lenient=True, profile="stress") as handle:
        yield handle


def runs(emu, **params) -> dict:
    response = requests.get(f"{emu.github_url}/repos/acme/infra/actions/runs", headers=GH,
                            params={"per_page": 100, **params}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_workflow_runs_carry_no_default_branch_the_repository_does(strict, lenient):
    run = runs(strict)["workflow_runs"][0]
    assert "default_branch" not in run["repository"]
    assert "default_branch" not in run["head_repository"]
    repo = requests.get(f"{strict.github_url}/repos/acme/infra", headers=GH, timeout=30).json()
    assert repo["default_branch"] == "trunk"
    assert runs(lenient)["workflow_runs"][0]["repository"]["default_branch"] == "trunk"


def test_not_every_repository_defaults_to_main(strict):
    branches = {name: requests.get(f"{strict.github_url}/repos/acme/{name}", headers=GH, timeout=30)
                .json()["default_branch"] for name in ("api", "web", "infra", "mobile")}
    assert branches == {"api": "main", "web": "main", "infra": "trunk", "mobile": "master"}


def test_filtered_run_listing_counts_no_further_than_the_1000_it_serves(strict, lenient):
    window = {"created": "2026-08-01T00:00:00Z..2026-11-20T06:00:00Z"}
    true_total = runs(lenient, **window)["total_count"]
    assert true_total > 1000, "the infra repository has more than 1,000 runs in the window"
    assert runs(strict, **window)["total_count"] == 1000
    last = requests.get(f"{strict.github_url}/repos/acme/infra/actions/runs", headers=GH,
                        params={"per_page": 100, "page": 10, **window}, timeout=30)
    assert 'rel="next"' not in last.headers.get("Link", ""), "the next link vanishes at the cap"
    assert runs(strict)["total_count"] == runs(lenient)["total_count"] > 1000, "unfiltered lists are not capped"


@pytest.mark.parametrize("path", ["/services", "/incidents", "/teams", "/incidents/NOPE"])
def test_pagerduty_sends_rate_limit_headers_on_every_answer(strict, lenient, path):
    answer = requests.get(strict.pagerduty_url + path, headers=PD, timeout=30)
    assert answer.headers["ratelimit-limit"] == "960"
    assert 0 <= int(answer.headers["ratelimit-remaining"]) < 960
    assert 1 <= int(answer.headers["ratelimit-reset"]) <= 60
    assert "ratelimit-limit" not in requests.get(lenient.pagerduty_url + path, headers=PD, timeout=30).headers


def test_pagerduty_rate_limit_is_a_429_with_its_reset(strict):
    strict.settings(pagerduty_rate_limit=2, retry_after_s=3)
    try:
        statuses = [requests.get(strict.pagerduty_url + "/services", headers=PD, timeout=30) for _ in range(3)]
    finally:
        strict.settings(pagerduty_rate_limit=None)
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[2].headers["ratelimit-remaining"] == "0" and statuses[2].headers["ratelimit-reset"] == "3"
    assert statuses[2].json()["error"]["code"] == 2020


def test_an_account_without_teams_answers_402_on_teams_only():
    with start_emulator(seed=42, now=NOW, pagerduty_no_teams=True, profile="stress") as emu:
        teams = requests.get(emu.pagerduty_url + "/teams", headers=PD, timeout=30)
        services = requests.get(emu.pagerduty_url + "/services", headers=PD, timeout=30)
    assert teams.status_code == 402 and teams.json()["error"]["message"] == "Payment Required"
    assert services.status_code == 200


def test_redirects_on_demand_keep_the_path_and_query(strict):
    strict.settings(redirect={"status": 301, "to": "http://127.0.0.1:9", "count": 1})
    moved = requests.get(f"{strict.github_url}/repos/acme/api/pulls?state=all", headers=GH, timeout=30,
                         allow_redirects=False)
    again = requests.get(f"{strict.github_url}/repos/acme/api/pulls?state=all", headers=GH, timeout=30,
                         allow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["Location"] == "http://127.0.0.1:9/github/repos/acme/api/pulls?state=all"
    assert again.status_code == 200, "only `count` requests are redirected"
