"""Incremental builds == a full rebuild, and a backfilled day == the run on that day (issue 18), row by row.

The emulator (demo scale) feeds daily runs through the pipeline's own extract, validate, load and dbt steps: DAY1,
DAY1 + 1 (its clock a day on: new and resolved incidents, merged pull requests, deployments, alerts; the team
mapping of the config changes) and DAY1 + 5 (four days more, plus the upstream changes the emulator does not make,
written into raw after the load: `apply_upstream_changes`). DAY1 is then backfilled on a copy of that warehouse and
in a new data directory, and each backfill's marts must equal DAY1's own run's, row by row, for every mart family.
A run the day after gets, on top, the restatements a day can bring that the emulator may not produce, written into
the raw tables as a load writes them (new `_loaded_at`): an incident resolved days later, one reopened, a security
alert reopened, a revert merged after a deployment, a re-deploy, a Jira issue deleted, a team mapping changed
again, and a record dated 1970. The incrementally built warehouse is then copied and rebuilt with
`--full-refresh`; every table in `marts` and `intermediate` must have the same rows (floats to 1e-9 relative), and
each restatement must have reached the marts.
"""

from __future__ import annotations

import json
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
from tests.complete_grids import first_complete_days, grid_violations, sample_complete_violations

try:  # tests/integration as a package
    from . import dbt_harness as h
except ImportError:  # rootdir-relative (no __init__.py in tests/integration)
    import dbt_harness as h  # type: ignore[no-redef]

# `long`: six pipeline runs and two full rebuilds (about 2.5 minutes), run by `make test-long` in CI, which keeps the
# README's `make test` within its 15 minutes.
pytestmark = [pytest.mark.skipif(not h.dbt_executable().exists(), reason="dbt is not installed in this venv"),
              pytest.mark.slow, pytest.mark.long]

ROOT = Path(__file__).resolve().parents[2]
JIRA_AUTH = ("demo@example.com", "jira-demo-token")
TOKENS = {"OPSKPI_JIRA_TOKEN": "jira-demo-token", "OPSKPI_PAGERDUTY_TOKEN": "pd-demo-token",
          "OPSKPI_GITHUB_TOKEN": "gh-demo-token"}
START = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
DAY1 = date(2026, 11, 19)
DAY1_END = datetime(2026, 11, 20, tzinfo=UTC)  # DAY1's as_of
REPLAY_DAYS = 5  # DAY1 is backfilled after the runs of DAY1 + 1 and DAY1 + REPLAY_DAYS
QUIET_SINCE = "2026-11-19"  # records updated before this are as DAY1's run read them (their changes come after)


def write_config(path: Path, data_dir: Path, base_url: str, repos: list[str], api_team: str) -> Path:
    raw = yaml.safe_load((ROOT / "config" / "demo.yml").read_text())
    raw["data_dir"] = str(data_dir)
    raw["history_days"] = 60
    raw["transform"] = {"memory_limit": "1GB", "threads": 2, "duckdb_threads": 1}
    raw["sources"]["jira"]["base_url"] = f"{base_url}/jira"
    raw["sources"]["pagerduty"]["base_url"] = f"{base_url}/pagerduty"
    raw["sources"]["github"].update(base_url=f"{base_url}/github", repos=repos)
    raw["dora"]["repo_teams"]["acme/api"] = api_team  # the team mapping changes between the runs
    # Jira issues of type Incident are incidents too (and security incidents): their replay is tested as well
    raw.setdefault("incidents", {})["jira_issue_types"] = ["Incident"]
    raw["security_incidents"]["jira_issue_types"] = ["Incident"]
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run_day(config_path: Path, run_date: date, now: datetime, restate=None, full_refresh: bool = False,
            after_load=None) -> dict:
    """One run of `run_date` at `now`: extract, validate, load (then `after_load(con)`, upstream changes the
    emulator does not make), dbt; or, with `restate`, `restate(con)` on the raw tables instead of the extraction."""
    config = load_config(config_path)
    ctx = pipeline.RunContext.for_date(config, run_date, f"test-{run_date}", now=now, full_refresh=full_refresh)
    changed: dict = {}
    if restate is None:
        for source in pipeline.SOURCES:
            pipeline.extract(config, source, ctx)
        for source in pipeline.SOURCES:
            pipeline.validate(config, source, ctx)
        pipeline.load(config, ctx)
        if after_load is not None:
            with duckdb.connect(str(config.warehouse_path)) as con:
                after_load(con)
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


# --- Backfill = replay (issue 18): upstream changes after DAY1 ---------------------------------------------------
# Between DAY1's run and the backfill of DAY1, the emulator's clock moves REPLAY_DAYS days: issues move through
# their workflow and get priority edits and resolutions, incidents are resolved, pull requests merged before DAY1
# are deployed (one by a deployment created before DAY1's end that succeeded only after it), alerts are fixed and
# dismissed. The changes it does not make are written into raw here, dated between DAY1's end and DAY1 + 5, after
# every load of a run at that clock (as if the APIs had answered them): a Jira issue's type edited (Bug -> Incident),
# an Incident's priority lowered, a resolved issue reopened (its resolution cleared), an issue deleted (missed by a
# reconciliation), a PagerDuty incident unacknowledged and later resolved, another acknowledged again, a code
# scanning alert fixed, a secret scanning alert resolved and a Dependabot alert dismissed. Every one of them is on a
# record DAY1's run read as it is before the change (last updated before QUIET_SINCE), so DAY1's run saw the state
# the change replays from.

REPLAY_AT = {  # when each change happened (UTC), all after DAY1's end
    "issuetype": "2026-11-21 09:00:00", "priority": "2026-11-21 15:00:00", "reopen": "2026-11-22 10:00:00",
    "reconciled": "2026-11-23 00:00:00", "acknowledge": "2026-11-20 00:30:00", "unacknowledge": "2026-11-21 12:00:00",
    "resolve": "2026-11-23 08:00:00", "code_fixed": "2026-11-22 12:00:00", "secret_resolved": "2026-11-23 12:00:00",
    "dependabot_dismissed": "2026-11-24 09:00:00",
}


def pick_upstream_changes(con: duckdb.DuckDBPyConnection) -> dict:
    """The records the changes are made to, chosen once on the warehouse loaded at DAY1 + REPLAY_DAYS before any
    change (so applying them again, after a later load, changes the same records)."""
    def one(sql: str, params: list | None = None):
        row = con.execute(sql, params or []).fetchone()
        assert row is not None and row[0] is not None, sql
        return row if len(row) > 1 else row[0]

    quiet = f"updated < timestamptz '{QUIET_SINCE}'"
    open_issue = f"{quiet} and (record->>'$.fields.status.statusCategory.key') <> 'done'"
    picks: dict = {}
    picks["issuetype"] = one(f"""select id, record->>'$.fields.issuetype.id', record->>'$.fields.issuetype.name'
        from raw.jira__issues where {open_issue} and (record->>'$.fields.issuetype.name') = 'Bug' order by id""")
    picks["priority"] = one(f"""select id, record->>'$.fields.priority.id', record->>'$.fields.priority.name'
        from raw.jira__issues where {quiet} and (record->>'$.fields.issuetype.name') = 'Incident'
        and (record->>'$.fields.priority.name') in ('Highest', 'High') order by id""")
    last_resolution = """(select arg_max(item->>'$.{0}', changes.created)
        from raw.jira__issue_changelogs as changes, unnest(from_json(changes.record->'$.items', '["json"]')) as u(item)
        where changes.issue_id = issues.id and (item->>'$.field') = 'resolution')"""
    picks["reopen"] = one(f"""select id, record->>'$.fields.status.id', record->>'$.fields.status.name',
            {last_resolution.format('to')}, {last_resolution.format('toString')}
        from raw.jira__issues as issues where {quiet} and (record->>'$.fields.status.statusCategory.key') = 'done'
        and resolutiondate is not null and {last_resolution.format('to')} is not null order by id""")
    picks["deleted"] = one(f"""select id from raw.jira__issues where {open_issue} and id <> ? order by id""",
                           [picks["issuetype"][0]])
    picks["unacknowledge"] = one(f"""select id from raw.pagerduty__incidents where status = 'acknowledged'
        and resolved_at is null and updated_at < timestamptz '{QUIET_SINCE}' order by id""")
    picks["acknowledge"] = one("""select id from raw.pagerduty__incidents where created_at < ?
        and resolved_at > ? + interval 1 hour and id <> ? order by id""", [DAY1_END, DAY1_END, picks["unacknowledge"]])
    picks["code_fixed"] = one(f"""select repo, number from raw.github__code_scanning_alerts where state = 'open'
        and updated_at < timestamptz '{QUIET_SINCE}' order by repo, number""")
    picks["secret_resolved"] = one(f"""select repo, number from raw.github__secret_scanning_alerts where state = 'open'
        and updated_at < timestamptz '{QUIET_SINCE}' order by repo, number""")
    picks["dependabot_dismissed"] = one(f"""select repo, number from raw.github__dependabot_alerts
        where state = 'open' and updated_at < timestamptz '{QUIET_SINCE}' order by repo, number""")
    return picks


def _jira_change(con: duckdb.DuckDBPyConnection, issue_id: str, change_id: str, at: str, items: list[dict],
                 fields: dict) -> None:
    """A changelog entry of `items` at `at` on the issue, and its record's `fields` patched to match."""
    stamp = at.replace(" ", "T") + ".000+0000"
    con.execute("delete from raw.jira__issue_changelogs where issue_id = ? and id = ?", [issue_id, change_id])
    con.execute("""
        insert into raw.jira__issue_changelogs by name
        select * replace (? as id, timestamptz '{at}+00' as created,
                          json_merge_patch(record, json_object('id', ?, 'created', ?, 'items', ?::json)) as record,
                          now() as _loaded_at)
        from raw.jira__issue_changelogs where issue_id = ? order by created limit 1""".replace("{at}", at),
                [change_id, change_id, stamp, json.dumps(items), issue_id])
    con.execute(f"""
        update raw.jira__issues set updated = timestamptz '{at}+00',
            record = json_merge_patch(record, json_object(
                'fields', json_merge_patch(?::json, json_object('updated', ?)))),
            _loaded_at = now()
        where id = ?""", [json.dumps(fields), stamp, issue_id])


def apply_upstream_changes(con: duckdb.DuckDBPyConnection, picks: dict) -> None:
    """Write the changes into raw as a load writes them (fresh `_loaded_at`); idempotent."""
    at = REPLAY_AT
    def item(field: str, frm: str | None, frm_s: str | None, to: str | None, to_s: str | None) -> dict:
        return {"field": field, "fieldtype": "jira", "fieldId": field, "from": frm, "fromString": frm_s, "to": to,
                "toString": to_s}

    # Jira: a Bug becomes an Incident (it leaves the bug backlog, becomes an incident)
    issue, type_id, type_name = picks["issuetype"]
    incident_type = json.loads(con.execute("""select record->'$.fields.issuetype' from raw.jira__issues
        where (record->>'$.fields.issuetype.name') = 'Incident' limit 1""").fetchone()[0])
    _jira_change(con, issue, "9900001", at["issuetype"],
                 [item("issuetype", type_id, type_name, incident_type["id"], "Incident")], {"issuetype": incident_type})
    # an Incident's priority is lowered (high urgency -> low: no longer downtime)
    issue, priority_id, priority_name = picks["priority"]
    low = json.loads(con.execute("""select record->'$.fields.priority' from raw.jira__issues
        where (record->>'$.fields.priority.name') = 'Low' limit 1""").fetchone()[0])
    _jira_change(con, issue, "9900002", at["priority"],
                 [item("priority", priority_id, priority_name, low["id"], "Low")], {"priority": low})
    # a resolved issue is reopened: back in progress, its resolution cleared
    issue, status_id, status_name, resolution_id, resolution_name = picks["reopen"]
    in_progress = json.loads(con.execute("""select record->'$.fields.status' from raw.jira__issues
        where (record->>'$.fields.status.statusCategory.key') = 'indeterminate' order by id limit 1""").fetchone()[0])
    _jira_change(con, issue, "9900003", at["reopen"],
                 [item("status", status_id, status_name, in_progress["id"], in_progress["name"]),
                  item("resolution", resolution_id, resolution_name, None, None)],
                 {"status": in_progress, "resolution": None, "resolutiondate": None})
    con.execute("update raw.jira__issues set resolutiondate = null where id = ?", [issue])
    # an issue is deleted: a reconciliation after DAY1 lists every issue but it
    con.execute(f"""
        update raw.jira__issue_ids set
            reconciled_at = case
                when id = ? then least(reconciled_at, timestamptz '{at["reconciled"]}+00' - interval 1 day)
                else greatest(reconciled_at, timestamptz '{at["reconciled"]}+00') end,
            _loaded_at = now()""", [picks["deleted"]])
    con.execute(f"""
        insert into raw.jira__issue_ids by name
        select id, timestamptz '{at["reconciled"]}+00' as reconciled_at, json_object('id', id) as record,
               'replay' as _batch_id, now() as _loaded_at
        from raw.jira__issues
        where created < timestamptz '{at["reconciled"]}+00' and id not in (select id from raw.jira__issue_ids)""")
    # PagerDuty: an acknowledged incident is unacknowledged, then resolved; another is acknowledged (again)
    def log_entry(incident: str, kind: str, when: str) -> None:
        entry_id = f"RREPLAY{kind[:5].upper()}{incident}"
        con.execute("delete from raw.pagerduty__log_entries where id = ?", [entry_id])
        con.execute(f"""
            insert into raw.pagerduty__log_entries by name
            select * replace (? as id, ? as type, timestamptz '{when}+00' as created_at,
                              json_merge_patch(record, json_object('id', ?, 'type', ?, 'created_at', ?)) as record,
                              now() as _loaded_at)
            from raw.pagerduty__log_entries where incident_id = ? order by created_at limit 1""",
                    [entry_id, kind, entry_id, kind, when.replace(" ", "T") + "Z", incident])
    log_entry(picks["unacknowledge"], "unacknowledge_log_entry", at["unacknowledge"])
    log_entry(picks["unacknowledge"], "resolve_log_entry", at["resolve"])
    resolved = at["resolve"].replace(" ", "T") + "Z"
    con.execute(f"""
        update raw.pagerduty__incidents set status = 'resolved', resolved_at = timestamptz '{at["resolve"]}+00',
            updated_at = timestamptz '{at["resolve"]}+00',
            record = json_merge_patch(record, json_object('status', 'resolved', 'resolved_at', ?, 'updated_at', ?,
                                                          'last_status_change_at', ?)),
            _loaded_at = now()
        where id = ?""", [resolved, resolved, resolved, picks["unacknowledge"]])
    log_entry(picks["acknowledge"], "acknowledge_log_entry", at["acknowledge"])
    # GitHub: a code scanning alert is fixed, a secret scanning alert resolved (revoked)
    fixed = at["code_fixed"].replace(" ", "T") + "Z"
    con.execute(f"""
        update raw.github__code_scanning_alerts set state = 'fixed', fixed_at = timestamptz '{at["code_fixed"]}+00',
            updated_at = timestamptz '{at["code_fixed"]}+00',
            record = json_merge_patch(record, json_object('state', 'fixed', 'fixed_at', ?, 'updated_at', ?)),
            _loaded_at = now()
        where repo = ? and number = ?""", [fixed, fixed, *picks["code_fixed"]])
    revoked = at["secret_resolved"].replace(" ", "T") + "Z"
    con.execute(f"""
        update raw.github__secret_scanning_alerts set state = 'resolved', resolution = 'revoked',
            resolved_at = timestamptz '{at["secret_resolved"]}+00',
            updated_at = timestamptz '{at["secret_resolved"]}+00',
            record = json_merge_patch(record, json_object('state', 'resolved', 'resolution', 'revoked',
                                                          'resolved_at', ?, 'updated_at', ?)),
            _loaded_at = now()
        where repo = ? and number = ?""", [revoked, revoked, *picks["secret_resolved"]])
    dismissed = at["dependabot_dismissed"].replace(" ", "T") + "Z"
    con.execute(f"""
        update raw.github__dependabot_alerts set state = 'dismissed',
            dismissed_at = timestamptz '{at["dependabot_dismissed"]}+00',
            updated_at = timestamptz '{at["dependabot_dismissed"]}+00',
            record = json_merge_patch(record, json_object('state', 'dismissed', 'dismissed_at', ?, 'updated_at', ?,
                                                          'dismissed_reason', 'tolerable_risk')),
            _loaded_at = now()
        where repo = ? and number = ?""", [dismissed, dismissed, *picks["dependabot_dismissed"]])


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
            # DAY1 + REPLAY_DAYS, after the days between (the emulator's changes), plus the changes it does not make
            requests.post(f"{base}/__emulator/advance", json={"days": REPLAY_DAYS - 1}, timeout=30).raise_for_status()
            later = START + timedelta(days=REPLAY_DAYS)
            picks: dict = {}

            def upstream(con: duckdb.DuckDBPyConnection) -> None:
                if not picks:
                    picks.update(pick_upstream_changes(con))
                apply_upstream_changes(con, picks)

            run_day(config, DAY1 + timedelta(days=REPLAY_DAYS), later, after_load=upstream)
            shutil.copy2(work / "data" / "warehouse.duckdb", work / "later.duckdb")  # what that run built
            # Backfills of DAY1 after those days, with DAY1's configuration: on a copy of the warehouse that has run
            # since (extract, validate, load and dbt as any run), and in a new data directory.
            replays = {}
            for name, seed_warehouse in (("same_warehouse", work / "later.duckdb"), ("new_directory", None)):
                (work / name).mkdir()
                if seed_warehouse:
                    shutil.copy2(seed_warehouse, work / name / "warehouse.duckdb")
                run_day(write_config(work / f"{name}.yml", work / name, base, repos, api_team="platform"), DAY1,
                        later, after_load=upstream)
                replays[name] = work / name / "warehouse.duckdb"
            gone = {row["issue_id"]: requests.get(f"{base}/jira/rest/api/3/issue/{row['issue_id']}", auth=JIRA_AUTH,
                                                  timeout=30).status_code == 404
                    for row in h.query(work / "day1.duckdb", "select issue_id from marts.fct_jira_issues")}
            # what GitHub answers now for each alert DAY1's run had that the new directory's backfill does not
            missing = query_beside(replays["new_directory"], work / "day1.duckdb", """
                select alert_key, repo, alert_number from day1.marts.fct_security_alerts
                where alert_key not in (select alert_key from marts.fct_security_alerts)""")
            def github_answers(rows: list[dict]) -> dict[str, int]:
                return {row["alert_key"]: requests.get(
                    f"{base}/github/repos/{row['repo']}/dependabot/alerts/{row['alert_number']}", timeout=30,
                    headers={"Authorization": f"Bearer {TOKENS['OPSKPI_GITHUB_TOKEN']}"}).status_code
                    for row in rows}

            answers = github_answers(missing)
            # every Dependabot alert DAY1's run had that GitHub has withdrawn since (410 Gone)
            withdrawn = {key for key, code in github_answers(h.query(work / "day1.duckdb", """
                select alert_key, repo, alert_number from marts.fct_security_alerts
                where tool = 'dependabot'""")).items() if code == 410}
            deleted = {i for i, g in gone.items() if g}
            replays["day1_replayable"] = day1_without(
                work, write_config(work / "replayable.yml", work / "replayable", base, repos, api_team="platform"),
                deleted, withdrawn)
        # the restatements: the day after, on the warehouse that has run every day above
        restated = DAY1 + timedelta(days=REPLAY_DAYS + 1)
        changed = run_day(config, restated, later + timedelta(days=1), restate=restate)
        warehouse = work / "data" / "warehouse.duckdb"
        reference = work / "reference"
        (reference / "data").mkdir(parents=True)
        shutil.copy2(warehouse, reference / "data" / "warehouse.duckdb")
        ref_config = work / "reference.yml"
        ref_config.write_text(config.read_text().replace(str(work / "data"), str(reference / "data")))
        config_obj = load_config(ref_config)
        ctx = pipeline.RunContext.for_date(config_obj, restated, f"test-{restated}", now=later + timedelta(days=1),
                                           full_refresh=True)
        pipeline.transform(config_obj, ctx, docs=False, freshness=False)
    finally:
        mp.undo()
    return {"incremental": warehouse, "reference": reference / "data" / "warehouse.duckdb", "changed": changed,
            "day1": work / "day1.duckdb", "replays": replays, "deleted_issues": deleted, "withdrawn_alerts": withdrawn,
            "missing_alerts": answers, "later": work / "later.duckdb", "picks": picks, "restated": restated}


def day1_without(work: Path, config: Path, deleted_issues: set[str], withdrawn_alerts: set[str]) -> Path:
    """DAY1's run as a backfill in a new directory can reproduce it: DAY1's own raw records (and history windows)
    without the Jira issues deleted and the Dependabot alerts withdrawn since, which the APIs no longer return
    (docs/metrics.md "Things to know"), every model built again from them. The rows those records made are what a
    new directory's backfill may lack, computed rather than assumed."""
    warehouse = load_config(config).warehouse_path
    warehouse.parent.mkdir(parents=True)
    shutil.copy2(work / "day1.duckdb", warehouse)

    def forget(con: duckdb.DuckDBPyConnection) -> dict:
        for schema in ("marts", "intermediate"):  # the histories too (snapshot, alert states): built anew
            con.execute(f"drop schema {schema} cascade")
        for table, column in (("jira__issues", "id"), ("jira__issue_changelogs", "issue_id"),
                              ("jira__issue_ids", "id")):
            con.execute(f"delete from raw.{table} where {column} in (select unnest(?::varchar[]))",
                        [sorted(deleted_issues)])
        for table in ("github__dependabot_alerts", "github__dependabot_open_alerts"):
            con.execute(f"delete from raw.{table} where 'dependabot:' || repo || '#' || number "
                        "in (select unnest(?::varchar[]))", [sorted(withdrawn_alerts)])
        return {}

    run_day(config, DAY1, START, restate=forget, full_refresh=True)
    return warehouse


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
                where source = 'pagerduty' and stream = 'incidents' and snapshot_date = ?) as before
    """, [built["changed"]["reopened"], str(built["changed"]["redeploy"]), built["restated"]])[0]
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
# Jira issues deleted since DAY1 are gone from the API, and so is a Dependabot alert GitHub withdrew (410 Gone on
# its URL): an existing warehouse keeps them, a new directory never sees them. Its backfill is compared, every mart
# and every row, with DAY1's run rebuilt without them (day1_without): the rows they made are the only exceptions.


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


def test_the_days_after_brought_changes_a_backfill_must_undo(built: dict) -> None:
    """The backfill comparisons below are not vacuous: every kind of upstream change after DAY1 reached the marts
    of the run on DAY1 + REPLAY_DAYS, on records DAY1's run had."""
    picks = built["picks"]
    def key(issue_id: str) -> str:
        return h.query(built["day1"], "select key from marts.fct_jira_issues where issue_id = ?", [issue_id])[0]["key"]

    # the records changed by hand: (figure on DAY1's run, on the later run)
    records = {name: tuple(next(iter(h.query(warehouse, sql, params)[0].values()))
                           for warehouse in (built["day1"], built["later"]))
               for name, (sql, params) in {
        "issue_type": ("select issue_type from marts.fct_jira_issues where issue_id = ?", [picks["issuetype"][0]]),
        "jira_incident": ("select count(*) from marts.fct_incidents where incident_id = ?",
                          [f"jira:{key(picks['issuetype'][0])}"]),
        "issue_priority": ("select priority from marts.fct_jira_issues where issue_id = ?", [picks["priority"][0]]),
        "jira_incident_urgency": ("select urgency from marts.fct_incidents where incident_id = ?",
                                  [f"jira:{key(picks['priority'][0])}"]),
        "issue_reopened": ("select resolved_at is null and status_category = 'indeterminate' "
                           "from marts.fct_jira_issues where issue_id = ?", [picks["reopen"][0]]),
        "issue_deleted": ("select is_deleted from marts.fct_jira_issues where issue_id = ?", [picks["deleted"]]),
        "unacknowledged": ("select status from marts.fct_incidents where incident_id = ?", [picks["unacknowledge"]]),
        "acknowledged": ("select list(type order by created_at) from raw.pagerduty__log_entries "
                         "where incident_id = ? and created_at > ?", [picks["acknowledge"], DAY1_END]),
    }.items()}
    assert records == {
        "issue_type": ("Bug", "Incident"), "jira_incident": (0, 1), "issue_priority": (picks["priority"][2], "Low"),
        "jira_incident_urgency": ("high", "low"), "issue_reopened": (False, True), "issue_deleted": (False, True),
        "unacknowledged": ("acknowledged", "resolved"), "acknowledged": (None, records["acknowledged"][1]),
    }, records
    assert "acknowledge_log_entry" in records["acknowledged"][1], records
    # the emulator's changes, on records DAY1's run had (the later run's marts joined to DAY1's)
    changes = query_beside(built["later"], built["day1"], """
        select
            (select count(*) from marts.fct_jira_issues as now join day1.marts.fct_jira_issues as was using (issue_id)
             where now.status <> was.status) as issues_moved,
            (select count(*) from marts.fct_jira_issues as now join day1.marts.fct_jira_issues as was using (issue_id)
             where was.resolved_at is null and now.resolved_at is not null) as issues_resolved,
            (select count(*) from marts.fct_jira_issues as now join day1.marts.fct_jira_issues as was using (issue_id)
             where now.priority is distinct from was.priority and issue_id <> ?) as priorities_edited,
            (select count(*) from marts.fct_incidents as now join day1.marts.fct_incidents as was using (incident_id)
             where was.is_open and not now.is_open and incident_id <> ?) as incidents_resolved,
            -- pull requests merged by DAY1 and deployed after it, one by a deployment created by DAY1's end
            (select count(*) from marts.fct_pull_requests as now join day1.marts.fct_pull_requests as was
                using (repo, number)
             where was.merged_at is not null and was.deployed_at is null and now.deployed_at is not null)
                as pulls_deployed,
            (select count(*) from marts.fct_deployments as deployments join raw.github__deployments as raw
                on deployments.repo = raw.repo and deployments.deployment_id = cast(raw.id as varchar)
             where raw.created_at <= ? and deployments.deployed_at > ?) as late_deployments,
            -- alerts open at DAY1's end closed later, by tool and how
            (select list(distinct now.tool || ':' || now.close_reason order by 1)
             from marts.fct_security_alerts as now join day1.marts.fct_security_alerts as was using (alert_key)
             where was.closed_at is null and now.closed_at is not null) as alerts_closed
    """, [picks["priority"][0], picks["unacknowledge"], DAY1_END, DAY1_END])[0]
    assert {"dependabot:fixed", "dependabot:dismissed", "code_scanning:fixed",
            "secret_scanning:resolved"} <= set(changes.pop("alerts_closed")), changes
    assert min(changes.values()) > 0, changes


@pytest.mark.parametrize("replay", ["same_warehouse", "new_directory"])
def test_a_backfilled_day_equals_the_run_on_that_day(built: dict, replay: str) -> None:
    """Backfill = replay (issue 18): DAY1 run again after DAY1 + REPLAY_DAYS gives every mart row DAY1's own run gave
    (rows of later days, which the warehouse keeps, aside); in a new directory, every row DAY1's run gives without
    the records the APIs no longer return (day1_without)."""
    reference = built["day1"] if replay == "same_warehouse" else built["replays"]["day1_replayable"]
    diff = compare_warehouses(reference, built["replays"][replay], schemas=("marts",), through=DAY1,
                              left_out=NOT_REPLAYABLE)
    assert diff["rows_compared"] > 1000
    assert diff["differing_tables"] == {}


def test_what_a_new_directory_cannot_replay_made_rows_of_the_jira_and_security_marts(built: dict) -> None:
    """The new directory's comparison above is not vacuous: issues were deleted and an alert withdrawn after DAY1, and
    leaving them out of DAY1's run changes the rows of the Jira flow, security posture and snapshot marts (which a
    comparison with DAY1's run as it was would report as differing)."""
    assert built["deleted_issues"] and built["withdrawn_alerts"], (built["deleted_issues"], built["withdrawn_alerts"])
    assert built["withdrawn_alerts"] == set(built["missing_alerts"])  # all the new directory lacks, and no more
    diff = compare_warehouses(built["day1"], built["replays"]["day1_replayable"], schemas=("marts",), through=DAY1,
                              left_out=NOT_REPLAYABLE)
    assert {"marts.fct_jira_issues", "marts.mart_jira_flow_daily", "marts.kpi_daily_snapshot",
            "marts.fct_security_alerts", "marts.mart_security_posture_daily"} <= set(diff["differing_tables"]), diff


@pytest.mark.parametrize("warehouse", ["day1", "incremental", "new_directory", "day1_replayable"])
def test_every_daily_mart_starts_on_its_first_complete_day_and_says_which_windows_are_complete(
        built: dict, warehouse: str) -> None:
    """Complete grids (issue 18), on the marts: each daily mart and each snapshot KPI from the first day whose whole
    population was read (its family's history window, DORA's dora.max_deploy_lag after the pull requests' window)
    to the run's date, no day before it (absent, not zero) and none missing. The warehouses hold records from before
    those days: pull requests and deployments read 30 days further back, alerts re-read from months back, Jira
    issues created long before and updated since, and (after the restatements) an incident dated 1970."""
    path = built[warehouse] if warehouse in built else built["replays"][warehouse]
    run_date = built["restated"] if warehouse == "incremental" else DAY1
    with duckdb.connect(str(path), read_only=True) as con:
        first_days = first_complete_days(con, "UTC", timedelta(days=30), jira_incidents=True)
        assert grid_violations(con, first_days, run_date) == []
        # sample_complete from the same first days: false while a window reaches before its grid (09-21 .. 10-19 for
        # 30 days), true after, in mart_availability_daily, mart_dora_tier and every snapshot row
        assert sample_complete_violations(con, first_days) == []
        assert con.execute("select count(distinct sample_complete) from marts.mart_dora_tier").fetchone()[0] == 2
        earlier = con.execute("""
            select (select count(*) from raw.github__pulls where created_at < ?) as pulls,
                   (select count(*) from raw.github__dependabot_alerts where created_at < ?) as alerts,
                   (select count(*) from raw.jira__issues where created < ?) as issues""",
                              [*(datetime.combine(first_days[f], datetime.min.time(), UTC)
                                 for f in ("dora", "security", "jira"))]).fetchone()
    assert min(earlier) > 0, earlier  # records a grid could have started from


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
    # end-to-end delivery: a deleted issue's row is what a new directory lacks, nothing else differs
    assert differing_keys(built["replays"]["new_directory"], built["day1"], "fct_issue_delivery", "issue_id",
                          "key") <= built["deleted_issues"]


def test_a_backfill_in_a_new_directory_misses_only_the_withdrawn_alerts(built: dict) -> None:
    """The emulator withdraws a Dependabot alert between DAY1's run and the backfills: it is the only alert DAY1's
    run had that a new directory cannot replay, GitHub answers 410 Gone for it, and every other alert is the same."""
    assert built["missing_alerts"] and set(built["missing_alerts"].values()) == {410}, built["missing_alerts"]
    assert differing_keys(built["replays"]["new_directory"], built["day1"], "fct_security_alerts", "alert_key",
                          "updated_at") == set(built["missing_alerts"])
