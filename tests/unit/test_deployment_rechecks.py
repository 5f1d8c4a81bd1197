"""A status added late to an old deployment is loaded (issue 17, item 2), at a bounded cost in GraphQL queries.

Deployments list by creation only and the incremental walk stops below `deployments_lookback`; GitHub does not
document that a new status moves a deployment's `updatedAt`, and the strict emulator does not move it. So an
incremental run never listed a deployment created before its re-read span again, and a `failure` (a rollback)
or a late `success` posted on it later was never read. `deployment_rechecks` reads the statuses of loaded
deployments again by id: those of the recheck window every night, the older ones in a rotating 1/N slice.

The runs here are the pipeline's extract (opskpi.pipeline.extract_inputs + the engine) and load (load_pending)
of the deployment streams against the emulator, without Great Expectations (batches are marked validated) and
without dbt: what the change-failure figures read, the production deployments with a `success` status and
their statuses, is checked on the loaded statuses with the staging model's rule.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from emulator.server import start_emulator
from extractors.engine import extract_streams
from extractors.revisit import select, slot, sweep_days
from extractors.sources import build_source
from extractors.streams import Revisit, Window
from opskpi.load import VALIDATION_FILE, ensure_meta, load_pending
from opskpi.pipeline import RunContext, extract_inputs
from opskpi.warehouse import Warehouse

NOW = datetime(2026, 11, 20, 6, tzinfo=UTC)
DEPLOYMENT_STREAMS = ("deployments", "deployment_rechecks", "deployment_statuses")
DAY = timedelta(days=1)


@pytest.fixture()
def emu():
    with start_emulator(seed=42, now=NOW.strftime("%Y-%m-%dT%H:%M:%SZ")) as handle:
        yield handle


def run_night(config, day: int) -> dict:
    """Extract and load the deployment streams as the nightly run of NOW + `day` days would."""
    now = NOW + day * DAY
    ctx = RunContext.for_date(config, now.date(), f"night-{day}", now=now)
    source = build_source("github", config.source_settings("github"))
    streams = [s for s in source.streams if s.name in DEPLOYMENT_STREAMS]
    inputs = extract_inputs(config, "github", streams, ctx)
    results = extract_streams(source.client(), streams, inputs["windows"], config.landing_dir,
                              etags=inputs["etags"], child_versions=inputs["child_versions"], run_id=ctx.run_id)
    for result in results:
        (result.batch_dir / VALIDATION_FILE).write_text(json.dumps({"success": True}))
    with Warehouse(config.warehouse_path).connect() as con:
        ensure_meta(con)
        load_pending(con, config.landing_dir, [("github", s.name) for s in streams])
    return {r.stream.split("__", 1)[1]: r for r in results}


def loaded_statuses(config, deployment_id: int) -> set[str]:
    with Warehouse(config.warehouse_path).connect(read_only=True) as con:
        return {s.lower() for (s,) in con.execute(
            "SELECT state FROM raw.github__deployment_statuses WHERE deployment_id = ?", [deployment_id]).fetchall()}


def deployed(config, as_of: datetime, created_before: datetime) -> int:
    """Production deployments created before `created_before` with a success status by `as_of`: the change
    failure rate's denominator (int_dora_deployments: a deployment counts from its first `success`)."""
    with Warehouse(config.warehouse_path).connect(read_only=True) as con:
        return con.execute(
            "SELECT count(DISTINCT d.id) FROM raw.github__deployments d JOIN raw.github__deployment_statuses s "
            "ON s.repo = d.repo AND s.deployment_id = d.id WHERE lower(d.environment) = 'production' "
            "AND lower(s.state) = 'success' AND s.created_at <= ? AND d.created_at < ?",
            [as_of, created_before]).fetchone()[0]


def post_status(emu, deployment_id: int, state: str) -> None:
    response = requests.post(f"{emu.github_url}/repos/acme/api/deployments/{deployment_id}/statuses",
                             headers={"Authorization": "Bearer gh-demo-token"}, json={"state": state}, timeout=10)
    assert response.status_code == 201, response.text


def advance(emu, days: int = 1) -> None:
    requests.post(f"{emu.base_url}/__emulator/advance", json={"days": days}, timeout=10).raise_for_status()


def api_deployments(emu):
    data = emu.app.world.github
    api = next(r for r in data.repos if r.full_name == "acme/api")
    return [d for d in data.deployments if d.repo_index == api.index and d.production]


def test_a_late_status_on_an_old_deployment_is_loaded_and_moves_the_deployment_count(emu, make_config):
    config = make_config(emu.base_url, history_days=90)
    run_night(config, 0)  # the first run: every deployment of the 90 days, with its statuses
    deployments = api_deployments(emu)
    # Within the recheck window (31 days) but long past the 3-day re-read span of the walk: a rollback.
    rolled_back = next(d for d in deployments if NOW - timedelta(days=20) <= _at(d.created_ms) < NOW - 10 * DAY
                       and d.statuses[-1][2] in ("success", "inactive"))
    # Failed in the pipeline, reported successful later by the deploy tool: it becomes a deployment.
    late = next(d for d in deployments if NOW - timedelta(days=25) <= _at(d.created_ms) < NOW - 5 * DAY
                and d.statuses[-1][2] == "failure")
    assert loaded_statuses(config, rolled_back.id) >= {"success"} and "failure" not in loaded_statuses(
        config, rolled_back.id)
    assert "success" not in loaded_statuses(config, late.id)
    before = deployed(config, NOW + DAY, NOW - 5 * DAY)

    post_status(emu, rolled_back.id, "failure")
    post_status(emu, late.id, "success")
    # GitHub documents no such thing, and the strict emulator does not: the new status moves no `updated_at`.
    rest = requests.get(f"{emu.github_url}/repos/acme/api/deployments/{late.id}",
                        headers={"Authorization": "Bearer gh-demo-token"}, timeout=10).json()
    assert rest["updated_at"] == rest["created_at"]
    query = ("query($ids: [ID!]!) { nodes(ids: $ids) { ... on Deployment { createdAt updatedAt "
             "latestStatus { state } } } }")
    graphql = requests.post(f"{emu.github_url}/graphql", headers={"Authorization": "Bearer gh-demo-token"},
                            json={"query": query, "variables": {"ids": [late.node_id]}}, timeout=10).json()
    assert graphql["data"]["nodes"] == [{"createdAt": rest["created_at"], "updatedAt": rest["created_at"],
                                         "latestStatus": {"state": "SUCCESS"}}]
    advance(emu)
    night = run_night(config, 1)

    assert "failure" in loaded_statuses(config, rolled_back.id)
    assert "success" in loaded_statuses(config, late.id)
    assert deployed(config, NOW + DAY, NOW - 5 * DAY) == before + 1, "the late success: one more deployment"
    # The cost: 100 deployments per GraphQL query (1 point each), for the window's deployments and today's slice.
    checked = night["deployment_rechecks"].manifest["partitions"]["acme/api"]["revisit"]
    assert 0 < checked < len(deployments) * 2
    assert night["deployment_rechecks"].requests == -(-checked // 100)
    assert night["deployment_rechecks"].manifest["points"] == night["deployment_rechecks"].requests
    assert night["deployment_statuses"].requests == 0, "statuses come inside the recheck answers"


def test_a_late_status_past_the_recheck_window_is_loaded_within_the_sweep(emu, make_config):
    config = make_config(emu.base_url, history_days=90)
    run_night(config, 0)
    old = next(d for d in api_deployments(emu) if NOW - timedelta(days=80) <= _at(d.created_ms) < NOW - 40 * DAY
               and d.statuses[-1][2] in ("success", "inactive"))
    post_status(emu, old.id, "failure")
    seen_on = None
    for day in range(1, 8):  # the sweep's 7 days: on the night of its slice, never later
        advance(emu)
        run_night(config, day)
        if "failure" in loaded_statuses(config, old.id):
            seen_on = day
            break
    assert seen_on is not None, "a late status on an old deployment was never loaded"
    assert (NOW + seen_on * DAY).date().toordinal() % 7 == slot(old.node_id, 7), "on its slice's night"


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# --- the selection, pure: every record within the sweep, whatever the schedule ---------------------------------

REVISIT = Revisit(of="deployments", id_path="node_id", created="created_at", recent=timedelta(days=31), sweep=7,
                  listed_from=lambda window: window.start, nightly=("environment", frozenset({"production"})))
END = datetime(2026, 11, 20, 6, tzinfo=UTC)
KNOWN = [(f"DE_{n}", END - timedelta(days=40 + n % 300, hours=n % 24), "production") for n in range(2000)]


def _select(end: datetime, previous: datetime | None, known=KNOWN) -> set[str]:
    return set(select(known, REVISIT, Window(end - 3 * DAY, end, resumed=True), end, previous))


def test_seven_nightly_runs_read_every_old_record_once_and_about_a_seventh_each_night():
    nights = [_select(END + k * DAY, END + (k - 1) * DAY) for k in range(7)]
    assert set().union(*nights) == {key for key, _, _ in KNOWN}
    assert sum(len(n) for n in nights) == len(KNOWN), "each once in the seven nights"
    assert all(len(n) < len(KNOWN) / 7 * 1.3 for n in nights)


def test_a_skipped_night_is_caught_up_and_a_weekly_run_reads_everything():
    assert sweep_days(END - 3 * DAY, END, 7) == [(END - 2 * DAY).date(), (END - DAY).date(), END.date()]
    assert _select(END, END - 7 * DAY) == {key for key, _, _ in KNOWN}  # a weekly schedule: all seven slices
    assert _select(END, END) == _select(END, None)  # a rerun of the day reads its own slice again
    assert sweep_days(None, END, 7) == [END.date()] and sweep_days(END + DAY, END, 7) == [END.date()]


def test_recent_production_records_every_night_and_never_what_the_walk_lists_itself():
    recent = [("DE_new", END - DAY, "production"), ("DE_week", END - 7 * DAY, "Production"),
              ("DE_month", END - 30 * DAY, "production")]
    chosen = select(recent, REVISIT, Window(END - 3 * DAY, END, resumed=True), END, None)
    assert chosen == ("DE_week", "DE_month"), "newest first; DE_new is re-listed by the walk (3-day span)"
    # A recent staging deployment counts in no KPI: it waits for its sweep slice like an old one.
    staging = [(f"DE_s{n}", END - 7 * DAY, "staging") for n in range(70)]
    nights = [set(select(staging, REVISIT, Window(END + k * DAY - 3 * DAY, END + k * DAY, True), END + k * DAY,
                         END + (k - 1) * DAY)) for k in range(7)]
    assert sum(map(len, nights)) == 70 and set().union(*nights) == {key for key, _, _ in staging}
    assert select(recent, REVISIT, Window(None, END), END, None) == ()
    ancient = [("DE_ancient", datetime(2020, 1, 1, tzinfo=UTC), "production")]
    assert select(ancient, REVISIT, Window(END - 3 * DAY, END), END, END - 7 * DAY,
                  earliest=END - timedelta(days=455)) == ()


# --- the query's answer: a deleted deployment is skipped, statuses land as from the walk ------------------------

def test_a_deleted_deployment_is_skipped_and_the_others_statuses_land(tmp_path):
    from extractors.streams import Window as W
    from tests.scripted_server import ScriptedServer

    status = {"node_id": "DES_9", "state": "FAILURE", "environment": "production",
              "created_at": "2026-11-19T00:00:00Z", "updated_at": "2026-11-19T00:00:00Z"}
    deployment = {"node_id": "DE_1", "id": 7, "environment": "production", "created_at": "2026-09-01T00:00:00Z",
                  "updated_at": "2026-09-01T00:00:00Z", "latest_status": {"state": "FAILURE"},
                  "statuses": {"totalCount": 1, "pageInfo": {"hasNextPage": False, "endCursor": "c1"},
                               "nodes": [status]}}

    def handler(method, path, body, headers):
        assert "DeploymentRecheck" in body["query"] and body["variables"] == {"ids": ["DE_1", "DE_gone"]}
        return 200, {}, {"data": {"nodes": [deployment, None],
                                  "rateLimit": {"cost": 1, "remaining": 4999, "resetAt": "2026-11-20T07:00:00Z"}},
                         "errors": [{"type": "NOT_FOUND", "path": ["nodes", 1],
                                     "message": "Could not resolve to a node with the global id of 'DE_gone'"}]}

    with ScriptedServer(handler) as server:
        src = build_source("github", {"base_url": server.base_url, "token": "t", "repos": ["o/r"]})
        streams = [src.stream("deployment_rechecks"), src.stream("deployment_statuses")]
        end = datetime(2026, 11, 20, tzinfo=UTC)
        windows = {"deployment_rechecks": {"o/r": W(end - DAY, end, True, revisit=("DE_1", "DE_gone"))},
                   "deployment_statuses": {"o/r": W(end - DAY, end, True)}}
        rechecks, statuses = extract_streams(src.client(), streams, windows, tmp_path)
    assert rechecks.rows == 1 and rechecks.requests == 1 and rechecks.manifest["partitions"]["o/r"]["revisit"] == 2
    assert statuses.rows == 1 and statuses.requests == 0


def test_a_timed_out_batch_is_halved_and_every_id_is_still_read_once(tmp_path):
    """GitHub answers 502/504 when a query takes too long: the same 100 ids sent again would time out again
    (the large bench's rechecks gave up after 8 tries), so the batch is halved and the ids it drops are asked for
    after it, at the smaller size."""
    from extractors.http import RetryPolicy
    from extractors.streams import Window as W
    from tests.scripted_server import ScriptedServer

    asked: list[list[str]] = []

    def handler(method, path, body, headers):
        ids = body["variables"]["ids"]
        asked.append(ids)
        if len(ids) > 10:
            return 504, {}, {"message": "We couldn't respond to your request in time."}
        nodes = [{"node_id": i, "id": int(i[3:]), "environment": "production", "created_at": "2026-09-01T00:00:00Z",
                  "updated_at": "2026-09-01T00:00:00Z", "latest_status": None,
                  "statuses": {"totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []}}
                 for i in ids]
        return 200, {}, {"data": {"nodes": nodes, "rateLimit": {"cost": 1, "remaining": 4999,
                                                                "resetAt": "2026-11-20T07:00:00Z"}}}

    wanted = tuple(f"DE_{n}" for n in range(25))
    with ScriptedServer(handler) as server:
        src = build_source("github", {"base_url": server.base_url, "token": "t", "repos": ["o/r"]})
        client = src.client()
        client._sleep = lambda s: None
        client.retry = RetryPolicy(max_attempts=4, backoff_base_s=0.01)
        end = datetime(2026, 11, 20, tzinfo=UTC)
        windows = {"deployment_rechecks": {"o/r": W(end - DAY, end, True, revisit=wanted)}}
        rechecks, = extract_streams(client, [src.stream("deployment_rechecks")], windows, tmp_path)
    answered = [ids for ids in asked if len(ids) <= 10]
    assert [len(ids) for ids in asked[:3]] == [25, 12, 6], asked
    assert sorted(i for ids in answered for i in ids) == sorted(wanted), "each id read once, none dropped"
    assert rechecks.rows == 25


def test_the_recheck_query_is_valid_for_github_and_costs_one_point_per_100_deployments():
    from graphql import parse, validate

    from emulator.github_graphql import github_schema
    from emulator.github_graphql.rules import measure
    from extractors.sources.github_recheck import RECHECK_QUERY

    document = parse(RECHECK_QUERY)
    assert validate(github_schema(), document) == []
    cost = measure(github_schema(), document.definitions[0], {}, {"ids": [f"DE_{n}" for n in range(100)]})
    assert cost.points == 1 and cost.nodes <= 500_000


def test_the_emulator_answers_an_unknown_id_null_beside_the_others(emu):
    known = api_deployments(emu)[0].node_id
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Deployment { id } } }"
    body = requests.post(f"{emu.github_url}/graphql", headers={"Authorization": "Bearer gh-demo-token"},
                         json={"query": query, "variables": {"ids": [known, "DE_gone"]}}, timeout=10).json()
    assert body["data"]["nodes"] == [{"id": known}, None]
    assert [(e["type"], e["path"]) for e in body["errors"]] == [("NOT_FOUND", ["nodes", 1])]


@pytest.mark.parametrize(("errors", "data", "problem"), [
    ([{"type": "NOT_FOUND", "path": ["nodes", 0], "message": "gone"}], {"nodes": [None]}, None),
    # anything else is GitHub's usual verdict: a missing repository-like NOT_FOUND without nodes fails...
    ([{"type": "NOT_FOUND", "path": ["node"], "message": "gone"}], {"node": None}, "cannot find"),
    # ...a partial answer is retried (never landed half), a rate limit waited for
    ([{"type": "SOMETHING", "path": ["nodes", 0], "message": "odd"}], {"nodes": [None]}, "partial"),
    ([{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}], None, "rate limit"),
])
def test_only_ids_that_no_longer_resolve_are_forgiven(errors, data, problem):
    from extractors.sources.github_recheck import lookup_check

    verdict = lookup_check({"data": data, "errors": errors})
    assert (verdict.problem is None) if problem is None else (problem in verdict.problem.lower())
