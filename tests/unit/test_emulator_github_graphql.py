"""The emulator's GitHub GraphQL endpoint: GitHub's schema, its run-time rules, its cost formula and error shapes,
and the same data as the REST endpoints (see the shared guide github-graphql.md)."""

from __future__ import annotations

import gzip
import hashlib

import pytest
import requests
from graphql import parse

from emulator.clock import Clock
from emulator.gen_github import deployment_statuses, visible_commits
from emulator.github_graphql import SCHEMA_FILE, SCHEMA_SHA256, github_schema
from emulator.github_graphql.rules import QueryRejected, measure
from emulator.server import start_emulator

NOW = "2026-11-20T06:00:00Z"


@pytest.fixture(scope="module")
def emu():
    with start_emulator(seed=42, now=NOW, profile="stress") as handle:
        yield handle


def post(emu, query: str, variables: dict | None = None, token: str | None = "ok", path: str = "/graphql"):
    headers = {} if token is None else {"Authorization": f"bearer {emu.credentials.github_token}"}
    body = {"query": query} if variables is None else {"query": query, "variables": variables}
    return requests.post(emu.github_url + path, json=body, headers=headers, timeout=30)


def cost_of(query: str, variables: dict | None = None):
    document = parse(query)
    return measure(github_schema(), document.definitions[0], {}, variables or {})


def test_vendored_schema_is_the_published_package_file():
    assert hashlib.sha256(gzip.decompress(SCHEMA_FILE.read_bytes())).hexdigest() == SCHEMA_SHA256


def test_cost_and_nodes_follow_githubs_documented_formula():
    # GitHub's docs: 1 + 100 + 100*50 = 5,101 requests -> 51 points; nodes 100 + 5,000 + 300,000.
    cost = cost_of("query { viewer { repositories(first: 100) { nodes { issues(first: 50) { nodes {"
                   " labels(first: 60) { nodes { name } } } } } } } }")
    assert (cost.requests, cost.points, cost.nodes) == (5101, 51, 305_100)
    # A page of 25 pull requests with 100 commits each: 1 + 25 = 26 requests -> the minimum of 1 point.
    cost = cost_of("query($n: Int!) { repository(owner: \"a\", name: \"b\") { pullRequests(first: $n) { nodes {"
                   " commits(first: 100) { totalCount } } } } }", {"n": 25})
    assert (cost.requests, cost.points, cost.nodes) == (26, 1, 2525)
    # Fragments count where they are spread.
    cost = cost_of("query { node(id: \"x\") { ... on Deployment { statuses(first: 100) { totalCount } } } }")
    assert (cost.requests, cost.nodes) == (1, 100)


def test_connections_need_bounded_first_or_last_and_the_node_limit_holds():
    with pytest.raises(QueryRejected) as missing:
        cost_of("query { repository(owner: \"a\", name: \"b\") { pullRequests { totalCount } } }")
    assert missing.value.errors[0]["type"] == "MISSING_PAGINATION_BOUNDARIES"
    assert missing.value.errors[0]["path"] == ["repository", "pullRequests"]
    with pytest.raises(QueryRejected) as excessive:
        cost_of("query { repository(owner: \"a\", name: \"b\") { pullRequests(first: 101) { totalCount } } }")
    assert excessive.value.errors[0]["type"] == "EXCESSIVE_PAGINATION"
    with pytest.raises(QueryRejected) as nodes:
        cost_of("query { viewer { repositories(first: 100) { nodes { issues(first: 100) { nodes {"
                " labels(first: 100) { nodes { name } } } } } } } }")
    assert nodes.value.errors[0]["type"] == "MAX_NODE_LIMIT_EXCEEDED"
    assert "1,010,100" in nodes.value.errors[0]["message"]


def test_no_token_is_401_and_invalid_queries_get_errors_without_data(emu):
    assert post(emu, "{ rateLimit { cost } }", token=None).status_code == 401
    resp = post(emu, "{ repository(owner: \"acme\", name: \"api\") { mergedBySha } }")
    assert resp.status_code == 200 and "data" not in resp.json()
    assert "mergedBySha" in resp.json()["errors"][0]["message"]
    resp = post(emu, "{ repository(owner: \"acme\", name: \"api\") { deployments(first: 1, orderBy: "
                     "{field: UPDATED_AT, direction: DESC}) { totalCount } } }")
    assert "data" not in resp.json() and "UPDATED_AT" in resp.json()["errors"][0]["message"]
    resp = post(emu, "{ repository(owner: \"acme\", name: \"api\") { pullRequests(first: 1, after: \"junk\") {"
                     " totalCount } } }")
    assert resp.json()["errors"][0]["message"] == "`after` does not appear to be a valid cursor."


def test_not_found_is_a_field_error_and_siblings_are_answered(emu):
    body = post(emu, "{ a: repository(owner: \"acme\", name: \"gone\") { id } b: repository(owner: \"acme\","
                     " name: \"api\") { pullRequest(number: 999999) { id } name } }").json()
    assert body["data"]["a"] is None and body["data"]["b"] == {"pullRequest": None, "name": "api"}
    assert [(e["type"], e["path"]) for e in body["errors"]] == [
        ("NOT_FOUND", ["a"]), ("NOT_FOUND", ["b", "pullRequest"])]
    assert body["errors"][1]["message"] == "Could not resolve to a PullRequest with the number of 999999."


PULLS = """query($cursor: String, $inner: String, $n: Int!) { repository(owner: "acme", name: "infra") {
  pullRequests(first: $n, after: $cursor, orderBy: {field: UPDATED_AT, direction: DESC}) {
    pageInfo { hasNextPage endCursor }
    nodes { number updatedAt commits(first: 100, after: $inner) { totalCount pageInfo { hasNextPage endCursor }
      nodes { commit { oid } } } } } } }"""
COMMITS = """query($number: Int!, $cursor: String) { repository(owner: "acme", name: "infra") {
  pullRequest(number: $number) { commits(first: 100, after: $cursor) { pageInfo { hasNextPage endCursor }
    nodes { commit { oid } } } } } }"""


def test_pull_requests_and_every_commit_page_through_once(emu):
    data, now = emu.app.world.github, emu.app.clock.now_ms
    repo = data.repo_by_name["infra"]
    expected = {p.number: [c.sha for c in visible_commits(data.commits(p), now)] for p, _ in data.views(now, repo)}
    seen, cursor, last_updated = {}, None, None
    while True:
        page = post(emu, PULLS, {"cursor": cursor, "n": 37}).json()["data"]["repository"]["pullRequests"]
        for pr in page["nodes"]:
            assert last_updated is None or pr["updatedAt"] <= last_updated  # UPDATED_AT DESC
            last_updated = pr["updatedAt"]
            shas = [n["commit"]["oid"] for n in pr["commits"]["nodes"]]
            inner = pr["commits"]["pageInfo"]
            while inner["hasNextPage"]:  # continued past 100, never cut
                more = post(emu, COMMITS, {"number": pr["number"], "cursor": inner["endCursor"]}).json()
                conn = more["data"]["repository"]["pullRequest"]["commits"]
                shas += [n["commit"]["oid"] for n in conn["nodes"]]
                inner = conn["pageInfo"]
            assert pr["number"] not in seen
            seen[pr["number"]] = shas
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    assert seen == expected
    assert max(len(s) for s in seen.values()) > 250  # the long-lived infra branch: no REST-style 250 cap


def test_deployments_default_oldest_first_and_statuses_newest_first(emu):
    data, now = emu.app.world.github, emu.app.clock.now_ms
    repo = data.repo_by_name["api"]
    deployments = sorted((d for d in data.deployments_by_repo[repo.index] if d.created_ms <= now),
                         key=lambda d: (d.created_ms, d.id))
    body = post(emu, "{ repository(owner: \"acme\", name: \"api\") { deployments(first: 3) { totalCount nodes {"
                     " databaseId createdAt updatedAt ref { name } commitOid statuses(first: 100) { nodes { id"
                     " state createdAt } } } } } }").json()
    conn = body["data"]["repository"]["deployments"]
    assert conn["totalCount"] == len(deployments)
    assert [n["databaseId"] for n in conn["nodes"]] == [d.id for d in deployments[:3]]
    first = conn["nodes"][0]
    statuses = sorted(deployment_statuses(deployments[0], now), key=lambda s: (-s[1], -s[0]))
    assert [s["state"] for s in first["statuses"]["nodes"]] == [s[2].upper() for s in statuses]
    assert first["updatedAt"] == first["createdAt"]  # a new status does not move it (GitHub documents no such thing)


def test_points_are_charged_to_their_own_bucket_and_refused_when_short():
    with start_emulator(seed=42, now=NOW, github_graphql_points=3, profile="stress") as emu:
        query = "{ repository(owner: \"acme\", name: \"api\") { pullRequests(first: 100) { nodes {" \
                " commits(first: 100) { totalCount } labels(first: 10) { totalCount } } } } rateLimit { cost" \
                " remaining used limit } }"
        first = post(emu, query)  # 1 + 100 + 100 = 201 requests -> 2 points
        assert first.json()["data"]["rateLimit"] == {"cost": 2, "remaining": 1, "used": 2, "limit": 3}
        assert first.headers["x-ratelimit-resource"] == "graphql"
        assert first.headers["x-ratelimit-remaining"] == "1"
        refused = post(emu, query)  # 2 points > 1 left: refused whole, HTTP 200, nothing charged
        assert refused.status_code == 200 and "data" not in refused.json()
        assert refused.json()["errors"][0]["type"] == "RATE_LIMITED"
        assert refused.headers["x-ratelimit-remaining"] == "1"
        core = requests.get(emu.github_url + "/rate_limit", timeout=10,
                            headers={"Authorization": f"bearer {emu.credentials.github_token}"}).json()["resources"]
        assert core["graphql"]["used"] == 2 and core["core"]["used"] == 0
        emu.advance(hours=1)
        assert "errors" not in post(emu, query).json()


def test_an_over_wide_query_times_out_with_502_and_still_costs_points(emu):
    emu.app.apis["github"].graphql.timeout_above_nodes = 1000
    try:
        resp = post(emu, "{ repository(owner: \"acme\", name: \"api\") { pullRequests(first: 20) { nodes {"
                         " commits(first: 100) { totalCount } } } } }")
        assert resp.status_code == 502 and resp.json()["data"] is None
        assert int(resp.headers["x-ratelimit-used"]) >= 1
    finally:
        emu.app.apis["github"].graphql.timeout_above_nodes = None


def test_ghes_path_and_githubkit_graphql_work(emu):
    githubkit = pytest.importorskip("githubkit")
    assert post(emu, "{ rateLimit { cost } }", path="/api/graphql").status_code == 200
    kit = githubkit.GitHub(emu.credentials.github_token, base_url=emu.github_url + "/", auto_retry=False,
                           http_cache=False)
    numbers = []
    for page in kit.graphql.paginate(
            "query($cursor: String) { repository(owner: \"acme\", name: \"web\") { pullRequests(first: 50,"
            " after: $cursor) { nodes { number } pageInfo { hasNextPage endCursor } } } rateLimit { cost } }"):
        numbers += [n["number"] for n in page["repository"]["pullRequests"]["nodes"]]
    data = emu.app.world.github
    assert sorted(numbers) == sorted(p.number for p, _ in data.views(emu.app.clock.now_ms,
                                                                     data.repo_by_name["web"]))


def test_a_clock_rate_moves_the_clock_on_its_own():
    fixed, fast = Clock(NOW), Clock(NOW, rate=3600)
    before = fast.now_ms
    import time
    time.sleep(0.05)
    assert fixed.now_ms == fixed.start_ms
    assert fast.now_ms - before >= 0.05 * 3600 * 1000


def test_pygithub_graphql_query_reads_every_deployment_and_status_once(emu):
    github = pytest.importorskip("github")
    from extractors.sources.github_graphql import DEPLOYMENTS_QUERY

    gh = github.Github(base_url=emu.github_url, auth=github.Auth.Token(emu.credentials.github_token), retry=None)
    data, now = emu.app.world.github, emu.app.clock.now_ms
    repo = data.repo_by_name["web"]
    seen, statuses, cursor = [], [], None
    while True:
        _, body = gh.requester.graphql_query(DEPLOYMENTS_QUERY, {"owner": "acme", "name": "web", "pageSize": 40,
                                                                 "cursor": cursor})
        conn = body["data"]["repository"]["deployments"]
        for node in conn["nodes"]:
            seen.append(node["id"])
            assert not node["statuses"]["pageInfo"]["hasNextPage"]
            statuses += [s["node_id"] for s in node["statuses"]["nodes"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        cursor = conn["pageInfo"]["endCursor"]
    expected = [d for d in data.deployments_by_repo[repo.index] if d.created_ms <= now]
    assert sorted(seen) == sorted(d.id for d in expected) and len(set(seen)) == len(seen)
    assert len(statuses) == len(set(statuses)) == sum(len(deployment_statuses(d, now)) for d in expected)


def test_the_same_query_twice_answers_the_same_data_and_a_fresh_rate_limit(emu):
    query = "{ repository(owner: \"acme\", name: \"api\") { pullRequests(first: 5) { nodes { number } } }" \
            " limits: rateLimit { left: remaining cost __typename } }"
    one, two = post(emu, query).json()["data"], post(emu, query).json()["data"]
    assert one["repository"] == two["repository"]
    assert two["limits"] == {"left": one["limits"]["left"] - 1, "cost": 1, "__typename": "RateLimit"}


def test_bulk_scale_deployment_ids_fit_graphqls_int_and_match_rest():
    """`Deployment.databaseId` is a 32-bit Int in GitHub's schema: the sharded scales number deployments so
    GraphQL can answer them, with the same ids as REST."""
    with start_emulator(seed=42, now=NOW, scale="medium", profile="stress") as emu:
        body = post(emu, "{ repository(owner: \"acme\", name: \"api-3\") { deployments(last: 20) { nodes {"
                         " databaseId } } } }").json()
        assert "errors" not in body, body
        ids = [n["databaseId"] for n in body["data"]["repository"]["deployments"]["nodes"]]
        rest = requests.get(emu.github_url + "/repos/acme/api-3/deployments", params={"per_page": 20}, timeout=30,
                            headers={"Authorization": f"bearer {emu.credentials.github_token}"}).json()
        assert ids and max(ids) < 2**31 and sorted(ids) == sorted(d["id"] for d in rest)


def test_a_node_id_resolves_from_its_own_repository_shard_alone():
    """`nodes(ids:)` at a sharded scale reads only the shards the ids name (the ids carry their location, as
    GitHub's `kwDO` ids do): an index of every id built every repository's shard inside one request, and at the
    large scale the deployment rechecks timed out on it."""
    with start_emulator(seed=42, now=NOW, scale="medium", profile="stress") as emu:
        data, now = emu.app.world.github, emu.app.clock.now_ms
        repo = data.repo_by_name["api-3"]
        deployments = [d for d in data.deployments_by_repo[repo.index] if d.created_ms <= now][:3]
        pull = next(p for p in data.pulls_by_repo[repo.index] if p.created_ms <= now)
        built = set(data._dora_shards._items) | set(data._pull_shards._items)
        query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Deployment { databaseId }" \
                " ... on PullRequest { number } } }"
        ids = [d.node_id for d in deployments] + [pull.node_id, "DE_kwDOAAAAAM4AAAAB", "PR_kwDOzz", "PR_x"]
        body = post(emu, query, {"ids": ids}).json()
        nodes = body["data"]["nodes"]
        assert nodes[:4] == [{"databaseId": d.id} for d in deployments] + [{"number": pull.number}]
        assert nodes[4:] == [None, None, None]
        assert [e["path"] for e in body["errors"]] == [["nodes", 4], ["nodes", 5], ["nodes", 6]]
        assert set(data._dora_shards._items) | set(data._pull_shards._items) == built | {repo.index}


def test_located_ids_decode_only_what_they_encode():
    from emulator.ids import located_node_id, node_location

    ident = located_node_id("DE", 3, 1_000_000_003)
    assert ident.startswith("DE_kwDO") and node_location(ident, "DE", 2) == (3, 1_000_000_003)
    assert node_location(ident, "PR", 2) is None and node_location(ident, "DE", 3) is None
    for forged in ("DE_", "DE_kwDO", "DE_!!!!", ident + "A", ident[:-1], "DE" + ident[2:].upper(), "x" * 500):
        assert node_location(forged, "DE", 2) is None, forged


def test_a_dry_run_reports_the_cost_without_charging_it():
    with start_emulator(seed=42, now=NOW, github_graphql_points=10, profile="stress") as emu:
        dry = post(emu, "{ rateLimit(dryRun: true) { cost remaining used } }").json()["data"]["rateLimit"]
        again = post(emu, "{ rateLimit(dryRun: true) { cost remaining used } }").json()["data"]["rateLimit"]
        assert dry == again == {"cost": 1, "remaining": 10, "used": 0}
        emu.app.apis["github"].graphql.rate_limit_type = "RATE_LIMIT"  # GitHub's newer spelling, with a code
        spent = [post(emu, "{ rateLimit { remaining } }") for _ in range(11)][-1].json()
        assert spent == {"errors": [{"type": "RATE_LIMIT", "code": "graphql_rate_limit",
                                     "message": "API rate limit exceeded for user ID 1."}]}


def test_the_lean_executor_answers_exactly_as_graphql_core_and_leaves_errors_to_it(emu):
    """emulator/github_graphql/lean.py walks the validated query itself (graphql-core's `execute` cost ~54 ms a
    page); graphql-core is the referee: same data for every query the extractor sends, and None (graphql-core
    answers) where an error or a null must be shaped."""
    from graphql import execute

    from emulator.github_graphql.data import GraphQLWorld
    from emulator.github_graphql.lean import execute_fast
    from extractors.sources.github_graphql import QUERIES

    data, now, schema = emu.app.world.github, emu.app.clock.now_ms, github_schema()
    infra = data.repo_by_name["infra"]
    long_pull = max((p for p, _ in data.views(now, infra)), key=lambda p: len(data.commits(p)))
    api = data.repo_by_name["api"]
    deployment = max((d for d in data.deployments_by_repo[api.index] if d.created_ms <= now),
                     key=lambda d: d.created_ms)

    cases = [
        (QUERIES["pulls"], {"owner": "acme", "name": "infra", "pageSize": 100, "cursor": None}),
        (QUERIES["pull_commits"], {"owner": "acme", "name": "infra", "number": long_pull.number, "cursor": None}),
        (QUERIES["deployments"], {"owner": "acme", "name": "api", "pageSize": 100, "cursor": None,
                                  "environments": None}),
        (QUERIES["deployment_statuses"], {"id": deployment.node_id, "cursor": None}),
        ("query { node(id: \"nope\") { id } }", {}),  # NOT_FOUND: a field error graphql-core must shape
        ("query { repository(owner: \"acme\", name: \"gone\") { name } }", {}),
    ]
    rate = {"cost": 1, "remaining": 4999, "resetAt": "2026-11-20T07:00:00Z", "limit": 5000, "used": 1, "nodeCount": 1}
    for query, variables in cases:
        document = parse(query)
        operation = document.definitions[0]
        world = GraphQLWorld(data, emu.app.world.seed, now)
        fast = execute_fast(schema, operation, {}, world.root(lambda info, **_: rate), variables)
        core = execute(schema, document, root_value=world.root(lambda info, **_: rate), variable_values=variables)
        if core.errors:
            assert fast is None, query
        else:
            assert fast == core.data and list(fast) == list(core.data), query
    assert len(data.commits(long_pull)) > 100  # the case that pages an inner connection
