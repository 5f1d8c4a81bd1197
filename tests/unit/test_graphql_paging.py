"""GraphQL paging and GitHub's GraphQL failures, through the HTTP client and the engine against scripted servers:
rate limits waited for on the server's clock, partial pages retried (never landed), timeouts answered with a
smaller page, and every query the extractor sends valid against GitHub's published schema and rules."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import formatdate

import pytest
from graphql import parse, validate

from emulator.github_graphql import github_schema
from emulator.github_graphql.rules import measure
from extractors.engine import extract_streams
from extractors.graphql import GraphQLPaginator, check_body
from extractors.http import ExtractError, HttpClient, RetryPolicy
from extractors.pagination import PageRequest
from extractors.sources import build_source
from extractors.sources.github_graphql import QUERIES
from extractors.streams import Window
from tests.scripted_server import ScriptedServer

RATE = {"cost": 1, "remaining": 4000, "resetAt": "2026-01-01T01:00:00Z"}
WINDOW = {"o/r": Window(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))}


def pull(number: int) -> dict:
    return {"id": str(1000 + number), "number": number, "state": "OPEN", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-02T00:00:00Z", "closed_at": None, "merged_at": None}


def page(nodes: list[dict], cursor: str | None = None) -> dict:
    info = {"hasNextPage": cursor is not None, "endCursor": cursor}
    return {"data": {"repository": {"pullRequests": {"pageInfo": info, "nodes": nodes}}, "rateLimit": RATE}}


def extract_pulls(server: ScriptedServer, tmp_path, waits: list[float] | None = None):
    src = build_source("github", {"base_url": server.base_url, "token": "t", "repos": ["o/r"],
                                  "max_attempts": 4})
    client = src.client()
    client._sleep = (waits if waits is not None else []).append
    client.retry = RetryPolicy(max_attempts=4, backoff_base_s=0.01, max_quota_wait_s=3900)
    return extract_streams(client, [src.stream("pulls")], {"pulls": WINDOW}, tmp_path)[0], client


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_query_the_extractor_sends_is_valid_for_github(name):
    """The referee: GitHub's published schema (@octokit/graphql-schema) and its run-time rules."""
    document = parse(QUERIES[name])
    assert validate(github_schema(), document) == []
    cost = measure(github_schema(), document.definitions[0], {}, {"pageSize": 100})
    assert cost.nodes <= 500_000 and cost.points <= 2


def test_rate_limited_waits_for_the_reset_on_the_servers_clock_then_reads_on(tmp_path):
    server_now = 1_700_000_000
    answers = iter([
        (200, {"x-ratelimit-remaining": "1", "x-ratelimit-reset": str(server_now + 1800),
               "x-ratelimit-resource": "graphql", "Date": formatdate(server_now, usegmt=True)},
         {"errors": [{"type": "RATE_LIMIT", "code": "graphql_rate_limit",
                      "message": "API rate limit already exceeded for user ID 1."}]}),
        (200, {}, page([pull(1), pull(2)])),
    ])
    with ScriptedServer(lambda *a: next(answers)) as server:
        waits: list[float] = []
        result, client = extract_pulls(server, tmp_path, waits)
    # 30 minutes on the server's clock, past the 900 s bound of other waits
    assert result.rows == 2 and waits == [pytest.approx(1800.0, abs=0.01)]
    assert client.stats.quota_waits == 1 and result.manifest["points"] == 1


def test_a_page_with_data_and_errors_is_retried_and_never_landed_half(tmp_path):
    partial = page([pull(1), None])
    partial["errors"] = [{"path": ["repository", "pullRequests", "nodes", 1], "message": "Something odd"}]
    answers = iter([(200, {}, partial), (200, {}, page([pull(1), pull(2)]))])
    with ScriptedServer(lambda *a: next(answers)) as server:
        waits: list[float] = []
        result, client = extract_pulls(server, tmp_path, waits)
    assert result.rows == 2 and len(server.requests) == 2
    assert client.stats.quota_waits == 0 and waits[0] < 1, "a partial page is a transient error, not a spent quota"


def test_a_timeout_retries_with_a_smaller_page_and_grows_back(tmp_path):
    sizes: list[int] = []

    def handler(method, path, body, headers):
        size = body["variables"]["pageSize"]
        sizes.append(size)
        if size > 25:
            return 502, {}, {"data": None, "errors": [{"message": "Something went wrong while executing your query."
                                                                  " This may be the result of a timeout"}]}
        n = len([s for s in sizes if s <= 25])
        return 200, {}, page([pull(n)], cursor=f"c{n}" if n < 8 else None)

    with ScriptedServer(handler) as server:
        result, _ = extract_pulls(server, tmp_path)
    assert sizes[:3] == [100, 50, 25] and result.rows == 8
    assert 50 in sizes[3:], "the page grows back after good pages"


def test_not_found_fails_at_once_naming_the_repository(tmp_path):
    body = {"data": {"repository": None, "rateLimit": RATE}, "errors": [
        {"type": "NOT_FOUND", "path": ["repository"], "message": "Could not resolve to a Repository with the name "
                                                                 "'o/r'."}]}
    with ScriptedServer(lambda *a: (200, {}, body)) as server:
        with pytest.raises(ExtractError, match="Could not resolve to a Repository with the name 'o/r'"):
            extract_pulls(server, tmp_path)
        assert len(server.requests) == 1


def test_check_body_verdicts():
    assert check_body(page([])).problem is None and check_body(page([])).points == 1
    assert check_body({"errors": [{"type": "RATE_LIMITED", "message": "x"}]}).rate_limited
    refused = check_body({"errors": [{"message": "Field 'x' doesn't exist on type 'PullRequest'"}]})
    assert refused.problem and not refused.retry
    assert check_body({"message": "Not Found"}).retry  # neither data nor errors: not an answer


def test_the_paginator_refuses_a_repeated_cursor():
    paginator = GraphQLPaginator(("repository", "pullRequests"))
    request = paginator.first(PageRequest("POST", "/graphql", json_body={"query": "q", "variables": {}}))
    again = paginator.next(request, page([pull(1)], cursor="c1"), None)
    assert again.json_body["variables"]["cursor"] == "c1"
    with pytest.raises(Exception, match="returned twice"):
        paginator.next(again, page([pull(1)], cursor="c1"), None)


def test_a_spent_quota_is_waited_for_before_sending(tmp_path):
    """After an answer leaves fewer points than the last query cost, the next query waits for the reset first
    instead of being refused."""
    server_now = 1_700_000_000
    answers = iter([
        (200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(server_now + 600),
               "x-ratelimit-resource": "graphql", "Date": formatdate(server_now, usegmt=True)},
         page([pull(1)], cursor="c1")),
        (200, {}, page([pull(2)])),
    ])
    with ScriptedServer(lambda *a: next(answers)) as server:
        waits: list[float] = []
        client = HttpClient(server.base_url, sleep=waits.append, clock=lambda: server_now + 5.0)
        src = build_source("github", {"base_url": server.base_url, "token": "t", "repos": ["o/r"]})
        result = extract_streams(client, [src.stream("pulls")], {"pulls": WINDOW}, tmp_path)[0]
    assert result.rows == 2 and len(server.requests) == 2
    assert waits == [601.0]  # to the reset on the server's clock (+1 s margin), then the second page
