"""Behaviours of the real APIs that the emulator reproduces (shared/guide/source-apis.md), checked through the
real SDKs where they react to them: rate limits, result caps, windows, and records changing mid-walk."""

from __future__ import annotations

import base64
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests

from emulator.gen_github import PULL_COMMITS_CAP, visible_commits
from emulator.server import start_emulator
from emulator.timefmt import HOUR

pytestmark = pytest.mark.referee

NOW = "2026-11-20T06:00:00Z"
GH = {"Authorization": "token gh-demo-token"}
PD = {"Authorization": "Token token=pd-demo-token"}
JIRA = {"Authorization": "Basic " + base64.b64encode(b"demo@example.com:jira-demo-token").decode()}


@pytest.fixture
def fresh():
    """An emulator of its own: these tests move its clock and change its limits."""
    with start_emulator(seed=42, now=NOW, profile="stress") as handle:
        yield handle


# --- GitHub ---------------------------------------------------------------------------------------------------


def test_rate_limit_counts_down_per_token_and_resets_each_emulated_hour(fresh):
    fresh.settings(github_rate_limit=5)
    url = f"{fresh.github_url}/repos/acme/api/releases"
    seen = []
    for _ in range(5):
        r = requests.get(url, headers=GH, timeout=10)
        seen.append((r.status_code, int(r.headers["x-ratelimit-remaining"]), int(r.headers["x-ratelimit-reset"])))
    assert [s[1] for s in seen] == [4, 3, 2, 1, 0] and {s[0] for s in seen} == {200}
    reset = seen[0][2]
    assert reset == (fresh.app.clock.now_ms // HOUR + 1) * HOUR // 1000  # top of the next emulated hour
    refused = requests.get(url, headers=GH, timeout=10)
    assert refused.status_code == 403 and "rate limit exceeded" in refused.json()["message"]
    assert refused.headers["x-ratelimit-remaining"] == "0" and "retry-after" not in refused.headers
    anonymous = requests.get(f"{fresh.github_url}/rate_limit", timeout=10)  # another bucket, 60 per hour
    assert anonymous.json()["rate"]["limit"] == 60
    # PyGithub reads the same headers.
    github = pytest.importorskip("github")
    g = github.Github(base_url=fresh.github_url, auth=github.Auth.Token("gh-demo-token"), retry=None,
                      seconds_between_requests=0)
    with pytest.raises(github.RateLimitExceededException):
        g.get_repo("acme/api")
    fresh.advance(hours=1)
    again = requests.get(url, headers=GH, timeout=10)
    assert again.status_code == 200 and again.headers["x-ratelimit-remaining"] == "4"
    assert int(again.headers["x-ratelimit-reset"]) == reset + 3600


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limits_answer_403_or_429_with_retry_after(fresh, status):
    fresh.settings(github_secondary={"status": status, "refuse_next": 1, "retry_after_s": 7})
    url = f"{fresh.github_url}/repos/acme/api/pulls"
    r = requests.get(url, headers=GH, timeout=10)
    assert r.status_code == status and r.headers["retry-after"] == "7"
    assert "secondary rate limit" in r.json()["message"]
    assert int(r.headers["x-ratelimit-remaining"]) > 0  # how a client tells it from an exhausted quota
    assert requests.get(url, headers=GH, timeout=10).status_code == 200
    # PyGithub's own retry (GithubRetry) recognises both and honours retry-after: here without sleeping.
    github = pytest.importorskip("github")
    fresh.settings(github_secondary={"status": status, "refuse_next": 1, "retry_after_s": 0})
    g = github.Github(base_url=fresh.github_url, auth=github.Auth.Token("gh-demo-token"),
                      retry=github.GithubRetry(total=2, backoff_factor=0), seconds_between_requests=0)
    assert g.get_repo("acme/api").name == "api"
    assert fresh.app.apis["github"].secondary.refused == 2


def test_every_nth_request_refused_by_cli_switch():
    with start_emulator(seed=42, now=NOW, github_secondary=429, github_secondary_every=3, profile="stress") as emu:
        codes = [requests.get(f"{emu.github_url}/repos/acme/api", headers=GH, timeout=10).status_code
                 for _ in range(6)]
    assert codes == [200, 200, 429, 200, 200, 429]


def test_304_on_matching_if_none_match_costs_no_rate_limit(fresh):
    url = f"{fresh.github_url}/repos/acme/api/deployments"
    first = requests.get(url, headers=GH, timeout=10)
    remaining = int(first.headers["x-ratelimit-remaining"])
    again = requests.get(url, headers={**GH, "If-None-Match": first.headers["etag"]}, timeout=10)
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-remaining"]) == remaining
    fresh.advance(days=1)  # new deployments: the ETag no longer matches, and that answer is paid for
    changed = requests.get(url, headers={**GH, "If-None-Match": first.headers["etag"]}, timeout=10)
    assert changed.status_code == 200 and int(changed.headers["x-ratelimit-remaining"]) == 5000 - 1  # new hour


def test_result_caps(emu):
    data, now = emu.app.world.github, emu.app.clock.now_ms
    # 250 commits of a pull request at most, although its `commits` count says more.
    huge = next(p for p in data.pulls if len(visible_commits(data.commits(p), now)) > PULL_COMMITS_CAP)
    repo = data.repos[huge.repo_index]
    pull = requests.get(f"{emu.github_url}/repos/{repo.full_name}/pulls/{huge.number}", headers=GH, timeout=10)
    assert pull.json()["commits"] > PULL_COMMITS_CAP
    listed = []
    for page in (1, 2, 3, 4):
        listed += requests.get(f"{emu.github_url}/repos/{repo.full_name}/pulls/{huge.number}/commits",
                               params={"per_page": 100, "page": page}, headers=GH, timeout=10).json()
    assert len(listed) == PULL_COMMITS_CAP
    # Releases: a page starting past the first 1,000 is refused.
    r = requests.get(f"{emu.github_url}/repos/acme/api/releases", params={"per_page": 100, "page": 11},
                     headers=GH, timeout=10)
    assert r.status_code == 422 and r.json()["message"] == "Only the first 1000 results are available."
    # Workflow runs: with a filter at most 1,000 can be paged to, and total_count counts no further.
    params = {"created": "<2026-11-20", "per_page": 100}
    last = requests.get(f"{emu.github_url}/repos/acme/infra/actions/runs", params={**params, "page": 10},
                        headers=GH, timeout=10).json()
    beyond = requests.get(f"{emu.github_url}/repos/acme/infra/actions/runs", params={**params, "page": 11},
                          headers=GH, timeout=10).json()
    assert last["total_count"] == 1000 and len(last["workflow_runs"]) == 100 and beyond["workflow_runs"] == []


# --- Jira -----------------------------------------------------------------------------------------------------


def test_jira_burst_limit_429_with_retry_after():
    with start_emulator(seed=42, now=NOW, jira_burst=3, retry_after_s=2, profile="stress") as emu:
        url = f"{emu.jira_url}/rest/api/3/myself"
        codes = [requests.get(url, headers=JIRA, timeout=10) for _ in range(4)]
        assert [r.status_code for r in codes] == [200, 200, 200, 429]
        refused = codes[-1]
        assert refused.headers["Retry-After"] == "2" and refused.headers["RateLimit-Reason"] == "jira-burst-based"
        assert requests.get(url, headers=JIRA, timeout=10).status_code == 200  # a new burst
        # The jira library without retries surfaces the 429 as JIRAError (with retries it would back off ~20 s).
        jira = pytest.importorskip("jira")
        emu.settings(jira_burst=1)
        client = jira.JIRA(server=emu.jira_url, basic_auth=("demo@example.com", "jira-demo-token"),
                           options={"rest_api_version": "3"}, get_server_info=False, max_retries=0)
        client.myself()
        with pytest.raises(jira.JIRAError) as refused_again:
            client.myself()
        assert refused_again.value.status_code == 429


def test_jira_embedded_changelog_is_truncated_newest_first(emu):
    data, now = emu.app.world.jira, emu.app.clock.now_ms
    issue, st = max(data.views(now), key=lambda row: len(row[1].histories))
    assert len(st.histories) > 100
    body = requests.get(f"{emu.jira_url}/rest/api/3/issue/{st.key}", params={"expand": "changelog"},
                        headers=JIRA, timeout=10).json()["changelog"]
    assert body["total"] == len(st.histories) and len(body["histories"]) == 100
    assert body["histories"][0]["id"] == st.histories[-1].history_id  # newest first


# --- PagerDuty ------------------------------------------------------------------------------------------------


def test_pagerduty_windows_and_offset_cap(emu):
    url = f"{emu.pagerduty_url}/incidents"
    default = requests.get(url, params={"total": "true"}, headers=PD, timeout=10).json()
    thirty = requests.get(url, params={"total": "true", "since": "2026-10-21T06:00:00Z",
                                       "until": NOW}, headers=PD, timeout=10).json()
    assert default["total"] == thirty["total"] > 0  # no since/until: the last 30 days
    since_only = requests.get(url, params={"total": "true", "since": "2026-08-01T00:00:00Z"}, headers=PD,
                              timeout=10).json()
    one_month = requests.get(url, params={"total": "true", "since": "2026-08-01T00:00:00Z",
                                          "until": "2026-09-01T00:00:00Z"}, headers=PD, timeout=10).json()
    assert since_only["total"] == one_month["total"]  # since alone: one month
    too_long = requests.get(url, params={"since": "2026-01-01T00:00:00Z", "until": "2026-08-01T00:00:00Z"},
                            headers=PD, timeout=10)
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == 2005
    capped = requests.get(url, params={"offset": 9901, "limit": 100, "date_range": "all"}, headers=PD, timeout=10)
    assert capped.status_code == 400 and capped.json()["error"]["code"] == 2002


# --- records changing while a client pages -------------------------------------------------------------------


def test_latency_setting_delays_api_requests_only(fresh):
    fresh.settings(latency_ms=150)
    started = time.monotonic()
    requests.get(f"{fresh.github_url}/rate_limit", headers=GH, timeout=10)
    slow = time.monotonic() - started
    started = time.monotonic()
    requests.get(f"{fresh.base_url}/__emulator/health", timeout=10)
    assert slow >= 0.15 and time.monotonic() - started < 0.15


def test_pulls_changing_mid_walk_sdk_versus_extractor(tmp_path):
    """The clock moves 20 emulated minutes after every request, so pull requests are updated while a client
    pages `sort=updated&direction=desc`: each update moves a record to the front and shifts the pages behind it.

    What PyGithub does (documented here): it follows `Link` blindly, so a record pushed onto the next page by
    one that moved to the front is listed twice, and the record that moved from a page not yet read to the front
    is skipped in that walk. Our extractor accepts that within a run and
    relies on overlap + dedupe: the next run re-reads from its watermark minus the lookback, and the loader
    keeps one row per primary key (the latest). Two runs land every pull request once, in its latest state."""
    github = pytest.importorskip("github")
    import pyarrow.parquet as pq

    from extractors.engine import extract_streams
    from extractors.landing import read_manifest
    from extractors.sources import build_source
    from extractors.streams import Window, parse_timestamp

    with start_emulator(seed=42, now=NOW, profile="stress") as emu:
        data, repo = emu.app.world.github, emu.app.world.github.repo_by_name["api"]
        emu.settings(tick_ms=20 * 60 * 1000)
        g = github.Github(base_url=emu.github_url, auth=github.Auth.Token("gh-demo-token"), retry=None,
                          per_page=20, seconds_between_requests=0)
        start_ms = emu.app.clock.now_ms
        sdk = Counter(p.number for p in g.get_repo("acme/api").get_pulls(state="all", sort="updated",
                                                                           direction="desc"))
        existing = {p.number for p, _ in data.views(start_ms, repo)}
        twice = [n for n, c in sdk.items() if c > 1]
        skipped = existing - set(sdk)
        assert twice or skipped  # what a naive walk does when pages shift (seed 42: a record listed twice)

        src = build_source("github", {"base_url": emu.github_url, "token": "gh-demo-token", "repos": ["acme/api"],
                                      "page_size": 20})
        pulls = next(s for s in src.streams if s.name == "pulls")

        def run(start: datetime, end: datetime) -> list[dict]:
            windows = {pulls.name: {p.id: Window(start, end) for p in pulls.partitions}}
            result = extract_streams(src.client(), [pulls], windows, tmp_path)[0]
            manifest = read_manifest(result.batch_dir)
            return manifest, pq.read_table([str(result.batch_dir / f) for f in manifest["files"]]).to_pylist()

        first_end = datetime.fromtimestamp(emu.app.clock.now_ms / 1000, UTC)
        manifest, first = run(first_end - timedelta(days=400), first_end)  # a first run: all history, ticking
        emu.settings(tick_ms=0)
        mark = max(parse_timestamp(m["max_cursor"]) for m in manifest["partitions"].values())
        second_end = datetime.fromtimestamp(emu.app.clock.now_ms / 1000, UTC)
        _, second = run(min(mark - timedelta(days=1), second_end - timedelta(days=1)), second_end)

        latest: dict[int, int] = {}  # what the loader does: one row per primary key, the latest
        for row in first + second:
            number, updated = int(row["number"]), _ms(row["updated_at"])
            latest[number] = max(latest.get(number, updated), updated)
        now = emu.app.clock.now_ms
        truth = {p.number: st.updated_ms for p, st in data.views(now, repo)}
        assert latest == truth


def _ms(value) -> int:
    from extractors.streams import parse_timestamp

    moment = value if isinstance(value, datetime) else parse_timestamp(str(value))
    return int(moment.timestamp() * 1000)
