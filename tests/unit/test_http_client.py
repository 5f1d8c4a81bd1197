"""The HTTP engine: retries, waits the server asks for, permission errors, redaction."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from extractors.http import ExtractError, HttpClient, PermissionDenied, RetryPolicy
from tests.scripted_server import ScriptedServer


def _client(server: ScriptedServer, waits: list[float], **kw) -> HttpClient:
    return HttpClient(server.base_url, sleep=waits.append, clock=lambda: 1_000_000.0,
                      retry=RetryPolicy(max_attempts=4, backoff_base_s=0.5), secrets=["s3cret-token"], **kw)


def test_retry_after_is_honoured_then_succeeds():
    replies = iter([(429, {"Retry-After": "7"}, {"error": "slow down"}), (200, {}, {"ok": 1})])
    with ScriptedServer(lambda *a: next(replies)) as server:
        waits: list[float] = []
        body, _ = _client(server, waits).request_json("GET", "/x")
    assert body == {"ok": 1}
    assert waits == [7.0]


def test_github_403_with_remaining_zero_waits_until_reset():
    replies = iter([
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000030",
               "Date": formatdate(1_000_000, usegmt=True)}, {"message": "API rate limit exceeded"}),
        (200, {}, []),
    ])
    with ScriptedServer(lambda *a: next(replies)) as server:
        waits: list[float] = []
        client = _client(server, waits)
        client.request_json("GET", "/repos/a/b/pulls")
    assert waits == [30.0]
    assert client.stats.rate_limit_waits == 1 and client.stats.quota_waits == 1


@pytest.mark.parametrize("local_skew_s", [-600.0, 0.0, 900.0])
def test_a_quota_wait_is_measured_on_the_servers_clock_and_may_pass_15_minutes(local_skew_s):
    """The reset is 40 minutes after the server's `Date`: that is the wait, whatever our own clock says, and it is
    waited for (GitHub's bound is 65 minutes) rather than failing the run at the 900 s of other waits."""
    server_now = 1_000_000
    replies = iter([
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(server_now + 2400),
               "Date": formatdate(server_now, usegmt=True)}, {"message": "API rate limit exceeded"}),
        (200, {}, []),
    ])
    with ScriptedServer(lambda *a: next(replies)) as server:
        waits: list[float] = []
        client = HttpClient(server.base_url, sleep=waits.append, clock=lambda: server_now + local_skew_s,
                            retry=RetryPolicy(max_quota_wait_s=65 * 60))
        client.request_json("GET", "/repos/a/b/pulls")
    assert waits == [2400.0]


def test_a_quota_reset_beyond_the_bound_fails_naming_the_wait():
    reply = (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(1_000_000 + 4000),
                   "Date": formatdate(1_000_000, usegmt=True)}, {"message": "API rate limit exceeded"})
    with ScriptedServer(lambda *a: reply) as server:
        client = HttpClient(server.base_url, sleep=lambda s: None, retry=RetryPolicy(max_quota_wait_s=65 * 60))
        with pytest.raises(ExtractError, match="wait 4000s, more than the allowed 3900s"):
            client.request_json("GET", "/repos/a/b/pulls")


def test_403_without_rate_limit_signal_is_a_permission_error_and_not_retried():
    with ScriptedServer(lambda *a: (403, {}, {"message": "Resource not accessible by integration"})) as server:
        waits: list[float] = []
        with pytest.raises(PermissionDenied) as err:
            _client(server, waits).request_json("GET", "/repos/a/b/pulls")
    assert waits == []
    assert len(server.requests) == 1
    assert "Resource not accessible" in str(err.value)


def test_5xx_backs_off_exponentially_then_gives_up_with_a_clear_message():
    with ScriptedServer(lambda *a: (503, {}, "<html>busy</html>")) as server:
        waits: list[float] = []
        with pytest.raises(ExtractError, match="giving up on GET .*/y after 4 attempts: HTTP 503"):
            _client(server, waits).request_json("GET", "/y", context="pagerduty__incidents")
    assert len(waits) == 3
    # base 0.5 doubled each time, with jitter in [0.5, 1.5)
    for attempt, wait in enumerate(waits):
        assert 0.25 * 2**attempt <= wait < 0.75 * 2**attempt


def test_200_with_html_body_is_retried_as_a_transport_error():
    replies = iter([(200, {"Content-Type": "text/html"}, "<html>proxy error</html>"), (200, {}, {"ok": True})])
    with ScriptedServer(lambda *a: next(replies)) as server:
        waits: list[float] = []
        body, _ = _client(server, waits).request_json("GET", "/z")
    assert body == {"ok": True}
    assert len(waits) == 1


def test_server_asking_for_too_long_a_wait_fails_instead_of_stalling():
    with ScriptedServer(lambda *a: (429, {"Retry-After": "86400"}, {})) as server:
        with pytest.raises(ExtractError, match="asks to wait 86400s"):
            _client(server, []).request_json("GET", "/z")


def test_secrets_are_redacted_from_errors():
    with ScriptedServer(lambda *a: (400, {}, {"message": "bad token s3cret-token"})) as server:
        with pytest.raises(ExtractError) as err:
            _client(server, []).request_json("GET", "/q?token=s3cret-token")
    assert "s3cret-token" not in str(err.value)
    assert "***" in str(err.value)


SECONDARY = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
             "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}


@pytest.mark.parametrize("status", [403, 429])
def test_github_secondary_limit_without_retry_after_waits_a_minute_then_doubles(status):
    # §3.4: no retry-after and quota left -> wait >= 60 s, then back off exponentially (60, 120, ...),
    # for a 429 exactly as for a 403 (a 429 used to get the 0.5 s transport backoff).
    replies = iter([(status, {"x-ratelimit-remaining": "4000"}, SECONDARY)] * 2 + [(200, {}, [])])
    with ScriptedServer(lambda *a: next(replies)) as server:
        waits: list[float] = []
        client = _client(server, waits)
        client.request_json("GET", "/repos/a/b/deployments")
    assert waits == [60.0, 120.0]
    assert client.stats.rate_limit_waits == 2


def test_secondary_limit_gives_up_instead_of_waiting_past_the_cap():
    # 60, 120, 240, 480 s are waited; the 5th would be 960 s > max_wait_s 900 s: fail, naming the wait.
    with ScriptedServer(lambda *a: (429, {}, SECONDARY)) as server:
        waits: list[float] = []
        client = HttpClient(server.base_url, sleep=waits.append, clock=lambda: 1_000_000.0,
                            retry=RetryPolicy(max_attempts=10))
        with pytest.raises(ExtractError, match="server asks to wait 960s"):
            client.request_json("GET", "/x")
    assert waits == [60.0, 120.0, 240.0, 480.0]


def test_403_with_remaining_zero_but_no_reset_is_still_a_rate_limit():
    # remaining == 0 alone is a rate-limit signal (§3.4), not a permission error; the reset is unknown -> 60 s.
    replies = iter([(403, {"x-ratelimit-remaining": "0"}, {"message": "Forbidden"}), (200, {}, [])])
    with ScriptedServer(lambda *a: next(replies)) as server:
        waits: list[float] = []
        _client(server, waits).request_json("GET", "/repos/a/b/releases")
    assert waits == [60.0]


def test_429_without_any_signal_keeps_the_short_transport_backoff():
    # Jira / PagerDuty 429s without a header or GitHub message: exponential backoff from 0.5 s, as before.
    replies = iter([(429, {}, {"errors": ["busy"]}), (200, {}, {})])
    with ScriptedServer(lambda *a: next(replies)) as server:
        waits: list[float] = []
        _client(server, waits).request_json("GET", "/x")
    assert len(waits) == 1 and 0.25 <= waits[0] < 0.75
