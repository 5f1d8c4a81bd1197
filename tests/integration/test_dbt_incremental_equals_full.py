"""Incremental builds == a full rebuild: every dbt table, row by row, after days of upstream changes.

The emulator (demo scale) feeds two daily runs through the pipeline's own extract, validate, load and dbt steps;
between them its clock moves a day (new and resolved incidents, merged pull requests, deployments, alerts) and
the team mapping of the config changes. A third day then gets, on top, the restatements a day can bring that the
emulator may not produce in one day, written into the raw tables as a load writes them (new `_loaded_at`): an
incident resolved days later, one reopened, a security alert reopened, a revert merged after a deployment, a
re-deploy, a Jira issue deleted, a team mapping changed again, and a record dated 1970. The incrementally built
warehouse is then copied and rebuilt with `--full-refresh`; every table in `marts` and `intermediate` must have
the same rows (floats to 1e-9 relative), and each restatement must have reached the marts.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import requests
import yaml

from bench.mart_diff import compare_warehouses
from emulator.server import start_emulator
from opskpi import pipeline
from opskpi.config import load_config

try:  # tests/integration as a package
    from . import dbt_harness as h
except ImportError:  # rootdir-relative (no __init__.py in tests/integration)
    import dbt_harness as h  # type: ignore[no-redef]

pytestmark = pytest.mark.skipif(not h.dbt_executable().exists(), reason="dbt is not installed in this venv")

ROOT = Path(__file__).resolve().parents[2]
JIRA_AUTH = ("demo@example.com", "jira-demo-token")
TOKENS = {"OPSKPI_JIRA_TOKEN": "jira-demo-token", "OPSKPI_PAGERDUTY_TOKEN": "pd-demo-token",
          "OPSKPI_GITHUB_TOKEN": "gh-demo-token"}
START = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
DAY1 = date(2026, 11, 19)


def write_config(path: Path, data_dir: Path, base_url: str, repos: list[str], api_team: str) -> Path:
    raw = yaml.safe_load((ROOT / "config" / "demo.yml").read_text())
    raw["data_dir"] = str(data_dir)
    raw["history_days"] = 60
    raw["transform"] = {"memory_limit": "1GB", "threads": 2, "duckdb_threads": 1}
    raw["sources"]["jira"]["base_url"] = f"{base_url}/jira"
    raw["sources"]["pagerduty"]["base_url"] = f"{base_url}/pagerduty"
    raw["sources"]["github"].update(base_url=f"{base_url}/github", repos=repos)
    raw["dora"]["repo_teams"]["acme/api"] = api_team  # the team mapping changes between the runs
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run_day(config_path: Path, run_date: date, now: datetime, restate=None, full_refresh: bool = False) -> dict:
    config = load_config(config_path)
    ctx = pipeline.RunContext.for_date(config, run_date, f"test-{run_date}", now=now, full_refresh=full_refresh)
    changed: dict = {}
    if restate is None:
        for source in pipeline.SOURCES:
            pipeline.extract(config, source, ctx)
        for source in pipeline.SOURCES:
            pipeline.validate(config, source, ctx)
        pipeline.load(config, ctx)
    else:
        with duckdb.connect(str(config.warehouse_path)) as con:
            changed = restate(con)
    pipeline.transform(config, ctx, docs=False, freshness=False)
    return changed


def restate(con: duckdb.DuckDBPyConnection) -> dict:
    """Day 3's upstream changes, merged into raw as the loader merges a newer record (fresh `_loaded_at`);
    returns the keys it changed."""
    stamp = "now()"
    changed = {"reopened": con.execute(
        "select id from raw.pagerduty__incidents where status = 'resolved' and created_at between "
        "timestamptz '2026-11-15' and timestamptz '2026-11-19' order by id limit 1").fetchone()[0]}
    # an incident created days ago is resolved only now (its resolution moves 4 days later), another reopens
    con.execute(f"""
        update raw.pagerduty__incidents set
            resolved_at = created_at + interval 4 day, updated_at = created_at + interval 4 day,
            record = json_merge_patch(record, json_object('resolved_at', strftime(created_at + interval 4 day,
                                                                                  '%Y-%m-%dT%H:%M:%SZ'))),
            _loaded_at = {stamp}
        where id = (select id from raw.pagerduty__incidents where status = 'resolved'
                    and created_at between timestamptz '2026-11-10' and timestamptz '2026-11-15'
                    order by id limit 1)""")
    con.execute(f"""
        update raw.pagerduty__incidents set
            status = 'triggered', resolved_at = null,
            record = json_merge_patch(record, '{{"status": "triggered", "resolved_at": null}}'), _loaded_at = {stamp}
        where id = ?""", [changed["reopened"]])
    # a fixed Dependabot alert is reopened (GitHub clears fixed_at)
    con.execute(f"""
        update raw.github__dependabot_alerts set
            state = 'open', fixed_at = null,
            record = json_merge_patch(record, '{{"state": "open", "fixed_at": null}}'), _loaded_at = {stamp}
        where repo || '#' || number = (select repo || '#' || number from raw.github__dependabot_alerts
                                       where state = 'fixed' order by repo, number limit 1)""")
    # a revert merged an hour after a production deployment of acme/api
    con.execute(f"""
        insert into raw.github__pulls by name
        select pulls.* replace (
            number + 900000 as number, id + 900000 as id,
            deployed.deployed + interval 1 hour as merged_at, deployed.deployed + interval 1 hour as closed_at,
            deployed.deployed + interval 1 hour as updated_at,
            json_merge_patch(record, json_object(
                'number', number + 900000, 'id', id + 900000, 'title', 'Revert "' || (record->>'title') || '"',
                'merged_at', strftime(deployed.deployed + interval 1 hour, '%Y-%m-%dT%H:%M:%SZ'),
                'closed_at', strftime(deployed.deployed + interval 1 hour, '%Y-%m-%dT%H:%M:%SZ'),
                'updated_at', strftime(deployed.deployed + interval 1 hour, '%Y-%m-%dT%H:%M:%SZ'))) as record,
            {stamp} as _loaded_at)
        from raw.github__pulls as pulls,
             (select max(created_at) as deployed from raw.github__deployment_statuses
              where repo = 'acme/api' and lower(state) = 'success'
                and created_at < timestamptz '2026-11-17') as deployed
        where pulls.repo = 'acme/api' and pulls.merged_at is not null
        order by pulls.number limit 1""")
    # a re-deploy: a new deployment of a deployed commit, successful two days ago
    changed["redeploy"] = con.execute(
        "select deployment_id + 7000000 from raw.github__deployment_statuses where repo = 'acme/web' "
        "and lower(state) = 'success' order by created_at desc limit 1").fetchone()[0]
    con.execute(f"""
        insert into raw.github__deployments by name
        select * replace (id + 7000000 as id, timestamptz '2026-11-18 10:00:00+00' as created_at,
                          timestamptz '2026-11-18 10:05:00+00' as updated_at,
                          json_merge_patch(record, json_object('id', id + 7000000)) as record, {stamp} as _loaded_at)
        from raw.github__deployments
        where repo || '#' || id = (select repo || '#' || deployment_id from raw.github__deployment_statuses
                                   where repo = 'acme/web' and lower(state) = 'success'
                                   order by created_at desc limit 1)""")
    con.execute(f"""
        insert into raw.github__deployment_statuses by name
        select * replace (deployment_id + 7000000 as deployment_id, node_id || '-redeploy' as node_id,
                          timestamptz '2026-11-18 10:05:00+00' as created_at,
                          json_merge_patch(record, json_object('node_id', node_id || '-redeploy')) as record,
                          {stamp} as _loaded_at)
        from raw.github__deployment_statuses
        where repo || '#' || node_id = (select repo || '#' || node_id from raw.github__deployment_statuses
                                   where repo = 'acme/web' and lower(state) = 'success'
                                   order by created_at desc limit 1)""")
    # a Jira issue is deleted: the newest id reconciliation no longer lists it
    con.execute(f"""
        update raw.jira__issue_ids set reconciled_at = reconciled_at + interval 2 day, _loaded_at = {stamp}
        where id <> (select min(id) from raw.jira__issue_ids)""")
    # the team mapping changes again (the config tables are rewritten by every load)
    con.execute("update raw.config__repos set team = 'payments' where repo = 'acme/web'")
    con.execute("update raw.config__services set team = 'growth' where service_id = 'PE7MXL4'")
    # a record dated 1970: outside the history window, so it must not stretch any day grid
    con.execute(f"""
        insert into raw.pagerduty__incidents by name
        select * replace ('P1970XX' as id, timestamptz '1970-01-01 00:00:00+00' as created_at,
                          timestamptz '1970-01-01 01:00:00+00' as resolved_at,
                          json_merge_patch(record, '{{"id": "P1970XX", "created_at": "1970-01-01T00:00:00Z",
                                                     "resolved_at": "1970-01-01T01:00:00Z"}}') as record,
                          {stamp} as _loaded_at)
        from raw.pagerduty__incidents where status = 'resolved' order by id limit 1""")
    return changed


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("incremental_equals_full")
    mp = pytest.MonkeyPatch()
    for name, value in TOKENS.items():
        mp.setenv(name, value)
    try:
        with start_emulator(seed=7, now=START.isoformat().replace("+00:00", "Z"), profile="stress") as emulator:
            base = emulator.base_url
            repos = [r["full_name"] for r in requests.get(
                f"{base}/github/orgs/acme/repos", params={"per_page": 100}, timeout=30,
                headers={"Authorization": f"Bearer {TOKENS['OPSKPI_GITHUB_TOKEN']}"}).json()]
            config = work / "config.yml"
            write_config(config, work / "data", base, repos, api_team="platform")
            run_day(config, DAY1, START)
            shutil.copy2(work / "data" / "warehouse.duckdb", work / "day1.duckdb")  # what the run on DAY1 built
            requests.post(f"{base}/__emulator/advance", json={"days": 1}, timeout=30).raise_for_status()
            write_config(config, work / "data", base, repos, api_team="growth")
            run_day(config, DAY1 + timedelta(days=1), START + timedelta(days=1))
            # Backfills of DAY1 a day later, with DAY1's configuration: on a copy of the warehouse that has run
            # since (extract, validate, load and dbt as any run), and in a new data directory.
            replays = {}
            for name, seed_warehouse in (("same_warehouse", work / "data" / "warehouse.duckdb"),
                                         ("new_directory", None)):
                (work / name).mkdir()
                if seed_warehouse:
                    shutil.copy2(seed_warehouse, work / name / "warehouse.duckdb")
                run_day(write_config(work / f"{name}.yml", work / name, base, repos, api_team="platform"), DAY1,
                        START + timedelta(days=1))
                replays[name] = work / name / "warehouse.duckdb"
            gone = {row["issue_id"]: requests.get(f"{base}/jira/rest/api/3/issue/{row['issue_id']}", auth=JIRA_AUTH,
                                                  timeout=30).status_code == 404
                    for row in h.query(work / "day1.duckdb", "select issue_id from marts.fct_jira_issues")}
            # what GitHub answers now for each alert DAY1's run had that the new directory's backfill does not
            missing = query_beside(replays["new_directory"], work / "day1.duckdb", """
                select alert_key, repo, alert_number from day1.marts.fct_security_alerts
                where alert_key not in (select alert_key from marts.fct_security_alerts)""")
            answers = {row["alert_key"]: requests.get(
                f"{base}/github/repos/{row['repo']}/dependabot/alerts/{row['alert_number']}", timeout=30,
                headers={"Authorization": f"Bearer {TOKENS['OPSKPI_GITHUB_TOKEN']}"}).status_code
                for row in missing}
        changed = run_day(config, DAY1 + timedelta(days=2), START + timedelta(days=2), restate=restate)
        warehouse = work / "data" / "warehouse.duckdb"
        reference = work / "reference"
        (reference / "data").mkdir(parents=True)
        shutil.copy2(warehouse, reference / "data" / "warehouse.duckdb")
        ref_config = work / "reference.yml"
        ref_config.write_text(config.read_text().replace(str(work / "data"), str(reference / "data")))
        config_obj = load_config(ref_config)
        ctx = pipeline.RunContext.for_date(config_obj, DAY1 + timedelta(days=2), f"test-{DAY1 + timedelta(days=2)}",
                                           now=START + timedelta(days=2), full_refresh=True)
        pipeline.transform(config_obj, ctx, docs=False, freshness=False)
    finally:
        mp.undo()
    return {"incremental": warehouse, "reference": reference / "data" / "warehouse.duckdb", "changed": changed,
            "day1": work / "day1.duckdb", "replays": replays, "deleted_issues": {i for i, g in gone.items() if g},
            "missing_alerts": answers}


def test_every_table_equals_the_full_refresh(built: dict) -> None:
    diff = compare_warehouses(built["incremental"], built["reference"])
    assert diff["rows_compared"] > 1000
    assert diff["differing_tables"] == {}
    assert diff["rows_differing"] == 0


def test_the_restatements_reached_the_marts(built: dict) -> None:
    rows = h.query(built["incremental"], """
        select
            (select count(*) from marts.fct_incidents where incident_id = ? and is_open) as reopened_open,
            (select count(*) from intermediate.int_dora_failure_links where failure_link = 'revert_pr'
                and pull_number > 900000) as revert_links,
            (select count(*) from marts.fct_deployments where deployment_id = ?) as redeploys,
            (select count(*) from marts.fct_jira_issues where is_deleted) as deleted_issues,
            (select count(distinct team) from marts.fct_deployments where repo = 'acme/web') as web_teams,
            (select min(team) from marts.fct_deployments where repo = 'acme/web') as web_team,
            (select min(team) from marts.fct_deployments where repo = 'acme/api') as api_team,
            (select min(day) from intermediate.int_reporting_days_spined) as first_day,
            (select min(window_start)::date from meta.stream_coverage
                where source = 'pagerduty' and stream = 'incidents') as window_day,
            (select min(window_start)::date from meta.stream_coverage) as any_window_day,
            (select min(window_start)::date from meta.stream_coverage
                where source = 'github' and stream = 'pulls') as pulls_window_day,
            (select min(day) from marts.mart_dora_daily) as dora_first_day,
            (select min(window_start)::date from meta.stream_coverage
                where source = 'jira' and stream = 'issues') as jira_window_day,
            (select min(day) from marts.mart_jira_flow_daily) as jira_first_day,
            (select max(start)::date from (select min(window_start) as start from meta.stream_coverage
                where stream in ('dependabot_alerts', 'code_scanning_alerts', 'secret_scanning_alerts')
                group by stream)) as security_window_day,
            (select min(day) from intermediate.int_security__days) as security_first_day,
            (select records_before_window from marts.pipeline_health_daily
                where source = 'pagerduty' and stream = 'incidents' and snapshot_date = date '2026-11-21') as before
    """, [built["changed"]["reopened"], str(built["changed"]["redeploy"])])[0]
    assert rows["reopened_open"] == 1
    assert rows["revert_links"] >= 1
    assert rows["redeploys"] == 1
    assert rows["deleted_issues"] >= 1
    assert (rows["web_teams"], rows["web_team"], rows["api_team"]) == (1, "payments", "growth")
    # the history window: the incident grid starts at the earliest window the pipeline read for incidents (the
    # 1970 record is outside it, so it is counted instead of stretching the grid back to 1970), not at the
    # earliest of any stream (the security walks re-read open alerts from months before it)
    assert rows["window_day"] <= date(2026, 9, 21)  # the first run read at least history_days (60) back
    assert rows["first_day"] == rows["window_day"]
    assert rows["any_window_day"] < rows["window_day"]
    # DORA: pull requests (and deployments) were read dora.max_deploy_lag (30 d) further back, so that the first
    # DORA day has every pull request it may deploy; the grid starts where that is true
    assert rows["pulls_window_day"] == rows["window_day"] - timedelta(days=30)
    assert rows["dora_first_day"] == rows["window_day"]
    # Jira and security: each grid from its own streams' window (the latest of the three alert streams')
    assert rows["jira_first_day"] == rows["jira_window_day"] == rows["window_day"]
    assert rows["security_first_day"] == rows["security_window_day"] == rows["window_day"]
    assert rows["before"] >= 1


# What a backfill cannot replay (docs/metrics.md "Things to know"): the tables about the pipeline's own runs and
# batches (a backfill is a run of its own), and an alert's newest update time (the API keeps only the latest).
NOT_REPLAYABLE = frozenset({"marts.pipeline_health_daily", "marts.pipeline_source_freshness_daily",
                            "marts.mart_security_coverage", "fct_security_alerts.updated_at"})
# Jira issues deleted since DAY1 are gone from the API: a new data directory never sees them (an existing
# warehouse keeps them), so its Jira marts are compared issue by issue below instead.
JIRA_MARTS = frozenset({"marts.fct_jira_issues", "marts.mart_jira_flow_daily", "marts.kpi_daily_snapshot"})
# Likewise a Dependabot alert GitHub withdrew since DAY1 (gone from every list, 410 Gone on its URL): an existing
# warehouse keeps it (open on DAY1, closed as withdrawn later), a new directory never sees it; compared alert by alert.
SECURITY_MARTS = frozenset({"marts.fct_security_alerts", "marts.mart_security_posture_daily",
                            "marts.mart_patch_compliance_daily"})


def query_beside(warehouse: Path, day1: Path, sql: str, params: list | None = None) -> list[dict]:
    """`sql` on `warehouse` with DAY1's own warehouse attached as `day1`."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute(f"attach '{day1}' as day1 (read_only)")
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def test_the_day_after_brought_changes_a_backfill_must_undo(built: dict) -> None:
    """The backfill comparisons below are not vacuous: between DAY1's run and the backfills, issues created by
    DAY1 moved, incidents open at DAY1's end were resolved, and pull requests merged by then were deployed."""
    as_of = datetime(2026, 11, 20, tzinfo=UTC)
    day1, later = built["day1"], built["replays"]["same_warehouse"]
    rows = query_beside(later, day1, """
        select
            (select count(*) from raw.jira__issues as now join day1.raw.jira__issues as was using (id)
             where now.updated > ? and (now.record->>'$.fields.status.id') <> (was.record->>'$.fields.status.id'))
                as issues_moved,
            (select count(*) from raw.pagerduty__incidents where created_at <= ? and resolved_at > ?)
                as resolved_later,
            (select count(*) from raw.github__pulls as pulls
             where merged_at <= ? and exists (
                select 1 from raw.github__deployment_statuses as statuses
                where statuses.repo = pulls.repo and statuses.created_at > ? and lower(statuses.state) = 'success'))
                as deployed_later
    """, [as_of] * 5)[0]
    assert rows["issues_moved"] > 0 and rows["resolved_later"] > 0 and rows["deployed_later"] > 0, rows


@pytest.mark.parametrize("replay", ["same_warehouse", "new_directory"])
def test_a_backfilled_day_equals_the_run_on_that_day(built: dict, replay: str) -> None:
    """Backfill = replay (issue 18): DAY1 run again a day later gives every mart row DAY1's own run gave (rows of
    later days, which the warehouse keeps, aside)."""
    left_out = NOT_REPLAYABLE | (JIRA_MARTS | SECURITY_MARTS if replay == "new_directory" else frozenset())
    diff = compare_warehouses(built["day1"], built["replays"][replay], schemas=("marts",), through=DAY1,
                              left_out=left_out)
    assert diff["rows_compared"] > 1000
    assert diff["differing_tables"] == {}


def differing_keys(backfill: Path, day1: Path, table: str, key: str, excluded: str) -> set:
    """The `key`s of the rows of marts.`table` (columns `excluded` aside) that differ between DAY1's run and
    `backfill`, either way."""
    rows = query_beside(backfill, day1, f"""
        select {key} from (select * exclude ({excluded}) from day1.marts.{table}
                           except all select * exclude ({excluded}) from marts.{table})
        union all
        select {key} from (select * exclude ({excluded}) from marts.{table}
                           except all select * exclude ({excluded}) from day1.marts.{table})
    """)
    return {r[key] for r in rows}


def test_a_backfill_in_a_new_directory_misses_only_the_deleted_jira_issues(built: dict) -> None:
    assert differing_keys(built["replays"]["new_directory"], built["day1"], "fct_jira_issues", "issue_id",
                          "is_deleted") == built["deleted_issues"]


def test_a_backfill_in_a_new_directory_misses_only_the_withdrawn_alerts(built: dict) -> None:
    """The emulator withdraws a Dependabot alert between DAY1's run and the backfills: it is the only alert DAY1's
    run had that a new directory cannot replay, GitHub answers 410 Gone for it, and every other alert is the same."""
    assert built["missing_alerts"] and set(built["missing_alerts"].values()) == {410}, built["missing_alerts"]
    assert differing_keys(built["replays"]["new_directory"], built["day1"], "fct_security_alerts", "alert_key",
                          "updated_at") == set(built["missing_alerts"])
