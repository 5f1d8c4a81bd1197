"""Run the opskpi dbt project against a throwaway DuckDB warehouse built from hand-made API records.

The raw tables are created exactly as the loader creates them (typed keys + `record JSON` +
`_batch_id`, `_loaded_at`); records are shaped like the real API objects and serialised with json.dumps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
LOADED_AT = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
BATCH_ID = "test-batch"

RAW_DDL = """
create schema if not exists raw;
create table raw.pagerduty__incidents (
    id VARCHAR primary key, created_at TIMESTAMPTZ, record JSON, _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.pagerduty__services (
    id VARCHAR primary key, record JSON, _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.jira__issues (
    id VARCHAR primary key, updated TIMESTAMPTZ, record JSON, _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.github__pulls (
    repo VARCHAR, number BIGINT, updated_at TIMESTAMPTZ, record JSON, _batch_id VARCHAR,
    _loaded_at TIMESTAMPTZ, primary key (repo, number)
);
create table raw.pagerduty__log_entries (
    id VARCHAR primary key, type VARCHAR, incident_id VARCHAR, created_at TIMESTAMPTZ, record JSON,
    _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.pagerduty__incident_alerts (
    incident_id VARCHAR, id VARCHAR, status VARCHAR, created_at TIMESTAMPTZ, record JSON,
    _batch_id VARCHAR, _loaded_at TIMESTAMPTZ, primary key (incident_id, id)
);
create table raw.pagerduty__teams (
    id VARCHAR primary key, name VARCHAR, record JSON, _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.config__services (service_id VARCHAR, team VARCHAR, slo_target_pct DOUBLE);
create table raw.config__service_prices (
    service_id VARCHAR, downtime_cost_per_minute DOUBLE, revenue_per_minute DOUBLE
);
create table raw.github__pull_commits (
    repo VARCHAR, pull_number BIGINT, sha VARCHAR, author_date TIMESTAMPTZ, committer_date TIMESTAMPTZ,
    pull_updated_at TIMESTAMPTZ, record JSON, _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.github__deployments (
    repo VARCHAR, id BIGINT, environment VARCHAR, sha VARCHAR, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ,
    record JSON, _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.github__deployment_statuses (
    repo VARCHAR, deployment_id BIGINT, node_id VARCHAR, state VARCHAR, environment VARCHAR, created_at TIMESTAMPTZ,
    record JSON, _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.github__releases (
    repo VARCHAR, id BIGINT, tag_name VARCHAR, created_at TIMESTAMPTZ, published_at TIMESTAMPTZ, record JSON,
    _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.github__workflow_runs (
    repo VARCHAR, id BIGINT, workflow_id BIGINT, name VARCHAR, event VARCHAR, head_branch VARCHAR, status VARCHAR,
    conclusion VARCHAR, run_attempt BIGINT, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ,
    run_started_at TIMESTAMPTZ, record JSON, _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.github__repositories (
    repo VARCHAR primary key, id BIGINT, full_name VARCHAR, default_branch VARCHAR, updated_at TIMESTAMPTZ,
    record JSON, _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.config__repos (repo VARCHAR, team VARCHAR);
create table raw.config__repo_services (repo VARCHAR, service_id VARCHAR);
create table raw.jira__issue_changelogs (
    issue_id VARCHAR, id VARCHAR, created TIMESTAMPTZ, record JSON, _batch_id VARCHAR, _loaded_at TIMESTAMPTZ,
    primary key (issue_id, id)
);
create table raw.jira__projects (
    id VARCHAR primary key, key VARCHAR, name VARCHAR, record JSON, _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.jira__statuses (
    id VARCHAR primary key, name VARCHAR, category VARCHAR, record JSON, _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.jira__issue_ids (
    id VARCHAR primary key, reconciled_at TIMESTAMPTZ, record JSON, _batch_id VARCHAR, _loaded_at TIMESTAMPTZ
);
create table raw.config__projects (project_key VARCHAR, team VARCHAR);
"""


def dbt_executable() -> Path:
    """The dbt CLI of the running interpreter's environment (works from any venv)."""
    return Path(sys.executable).parent / "dbt"


def parse_ts(value: str | None) -> datetime | None:
    """API timestamp string (`Z`, `+01:00`, Jira's `+0000`) -> aware datetime, as the loader types keys."""
    return None if value is None else datetime.fromisoformat(value)


# --- API-shaped record builders ------------------------------------------------------------------


def pd_service(service_id: str, name: str, teams: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    return {
        "id": service_id,
        "summary": name,
        "type": "service",
        "self": f"https://api.pagerduty.com/services/{service_id}",
        "name": name,
        "status": "active",
        "created_at": "2015-11-06T11:12:51-05:00",
        "teams": [{"id": tid, "type": "team_reference", "summary": tname} for tid, tname in teams],
        "incident_urgency_rule": {"type": "constant", "urgency": "high"},
    }


def pd_incident(
    incident_id: str,
    service: tuple[str, str],
    created_at: str,
    resolved_at: str | None = None,
    *,
    urgency: str = "high",
    status: str | None = None,
    priority: Mapping[str, Any] | None = None,
    number: int = 1,
    omit_resolved_at: bool = False,
) -> dict[str, Any]:
    """A PagerDuty incident; `status` defaults to resolved/acknowledged from resolved_at.

    omit_resolved_at builds a pre-2023 payload without `resolved_at` (only last_status_change_at).
    """
    status = status or ("resolved" if resolved_at else "acknowledged")
    service_id, service_name = service
    record: dict[str, Any] = {
        "id": incident_id,
        "type": "incident",
        "summary": f"[#{number}] {incident_id}",
        "incident_number": number,
        "title": f"Incident {incident_id}",
        "created_at": created_at,
        "updated_at": resolved_at or created_at,
        "status": status,
        "incident_key": f"key-{incident_id}",
        "service": {"id": service_id, "type": "service_reference", "summary": service_name},
        "assignments": [],
        "last_status_change_at": resolved_at or created_at,
        "resolved_at": resolved_at,
        "priority": dict(priority) if priority else None,
        "urgency": urgency,
        "teams": [],
        "acknowledgements": [],
    }
    if omit_resolved_at:
        del record["resolved_at"]
    return record


def pd_log_entry(
    entry_id: str,
    entry_type: str,
    incident_id: str,
    created_at: str,
    *,
    agent: tuple[str, str, str] = ("PUSER01", "user_reference", "Earline Greenholt"),
    channel: str = "web_ui",
) -> dict[str, Any]:
    """A log entry as returned by `GET /log_entries?is_overview=true` (incident and agent are references)."""
    agent_id, agent_type, agent_name = agent
    return {
        "id": entry_id,
        "type": entry_type,
        "summary": f"{entry_type} on {incident_id}",
        "self": f"https://api.pagerduty.com/log_entries/{entry_id}?incident_id={incident_id}",
        "created_at": created_at,
        "agent": {"id": agent_id, "type": agent_type, "summary": agent_name},
        "channel": {"type": channel},
        "incident": {"id": incident_id, "type": "incident_reference", "summary": f"[#1] {incident_id}"},
        "teams": [],
        "contexts": [],
    }


def pd_alert(
    alert_id: str,
    incident_id: str,
    created_at: str,
    creation_time: str | None = None,
    *,
    email: bool = False,
    suppressed: bool = False,
    status: str = "resolved",
) -> dict[str, Any]:
    """An alert as returned by `GET /incidents/{id}/alerts`: an Events API v2 alert whose `body.cef_details`
    carries `creation_time` (the event's payload.timestamp), or an e-mail alert (`cef_details` null)."""
    cef = None if email else {"creation_time": creation_time, "dedup_key": f"key-{alert_id}", "details": {},
                              "event_class": None, "severity": "critical"}
    return {
        "id": alert_id,
        "type": "alert",
        "summary": f"alert {alert_id}",
        "self": f"https://api.pagerduty.com/incidents/{incident_id}/alerts/{alert_id}",
        "created_at": created_at,
        "status": status,
        "alert_key": f"key-{alert_id}",
        "suppressed": suppressed,
        "severity": "critical",
        "incident": {"id": incident_id, "type": "incident_reference"},
        "integration": {"id": "PINT001", "type": ("generic_email_inbound_integration_reference" if email
                                                  else "events_api_v2_inbound_integration_reference")},
        "body": {"type": "alert_body", "contexts": [], "details": {}, "cef_details": cef},
    }


def pd_team(team_id: str, name: str, description: str | None = None) -> dict[str, Any]:
    return {
        "id": team_id,
        "type": "team",
        "summary": name,
        "self": f"https://api.pagerduty.com/teams/{team_id}",
        "name": name,
        "description": description,
    }


def jira_issue(
    issue_id: str,
    key: str,
    created: str,
    updated: str,
    resolutiondate: str | None,
    *,
    status: tuple[str, str] = ("In Progress", "indeterminate"),
    issuetype: str = "Bug",
    priority: str | None = "High",
    labels: Sequence[str] = (),
) -> dict[str, Any]:
    status_name, category = status
    return {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": issue_id,
        "self": f"https://example.atlassian.net/rest/api/3/issue/{issue_id}",
        "key": key,
        "fields": {
            "created": created,
            "updated": updated,
            "resolutiondate": resolutiondate,
            "labels": list(labels),
            "summary": f"Summary of {key}",
            "issuetype": {"id": "10004", "name": issuetype, "subtask": False},
            "priority": {"id": "2", "name": priority} if priority else None,
            "status": {"id": "3", "name": status_name, "statusCategory": {"id": 4, "key": category}},
            "project": {"id": "10000", "key": key.split("-")[0], "name": "Example"},
        },
    }


def github_pull(
    number: int,
    created_at: str,
    updated_at: str,
    *,
    state: str = "open",
    closed_at: str | None = None,
    merged_at: str | None = None,
    labels: Sequence[str] = (),
    draft: bool = False,
    author: str = "octocat",
    base_ref: str = "main",
) -> dict[str, Any]:
    return {
        "id": 1_000_000 + number,
        "node_id": f"PR_{number}",
        "number": number,
        "state": state,
        "locked": False,
        "title": f"PR {number}",
        "user": {"login": author, "id": 1, "type": "User"},
        "labels": [{"id": i, "name": name, "color": "f29513"} for i, name in enumerate(labels)],
        "created_at": created_at,
        "updated_at": updated_at,
        "closed_at": closed_at,
        "merged_at": merged_at,
        "merge_commit_sha": f"{number:040x}",
        "head": {"ref": f"feature-{number}", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
        "base": {"ref": base_ref, "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
        "draft": draft,
    }


# --- warehouse and dbt ---------------------------------------------------------------------------


@dataclass
class RawData:
    pagerduty_services: list[dict[str, Any]] = field(default_factory=list)
    pagerduty_incidents: list[dict[str, Any]] = field(default_factory=list)
    jira_issues: list[dict[str, Any]] = field(default_factory=list)
    github_pulls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (repo, record)
    config_services: list[tuple[str, str | None, float | None]] = field(default_factory=list)
    pagerduty_log_entries: list[dict[str, Any]] = field(default_factory=list)
    pagerduty_teams: list[dict[str, Any]] = field(default_factory=list)
    pagerduty_alerts: list[dict[str, Any]] = field(default_factory=list)
    # (service_id, downtime_cost_per_minute, revenue_per_minute); replaced whole like config_services
    config_service_prices: list[tuple[str, float | None, float | None]] = field(default_factory=list)


def _upsert(con: duckdb.DuckDBPyConnection, table: str, key: Sequence[str], rows: list[list[Any]]) -> None:
    """Replace rows by primary key (what the loader's merge does for a newer record); `key` = leading columns."""
    if not rows:
        return
    placeholders = ", ".join("?" for _ in rows[0])
    match = " and ".join(f"{column} = ?" for column in key)
    for row in rows:
        con.execute(f"delete from raw.{table} where {match}", row[: len(key)])
        con.execute(f"insert into raw.{table} values ({placeholders})", row)


def load_raw(
    path: Path, data: RawData, *, loaded_at: datetime = LOADED_AT, batch_id: str = BATCH_ID
) -> None:
    """Merge `data` into an existing warehouse as one loader batch: rows replace rows with the same key and get
    `_loaded_at = loaded_at`; the config mapping is replaced whole (as every load does)."""
    con = duckdb.connect(str(path))
    try:
        _upsert(
            con,
            "pagerduty__services",
            ["id"],
            [[r["id"], json.dumps(r), batch_id, loaded_at] for r in data.pagerduty_services],
        )
        _upsert(
            con,
            "pagerduty__teams",
            ["id"],
            [[r["id"], r["name"], json.dumps(r), batch_id, loaded_at] for r in data.pagerduty_teams],
        )
        _upsert(
            con,
            "pagerduty__incidents",
            ["id"],
            [
                [r["id"], parse_ts(r["created_at"]), json.dumps(r), batch_id, loaded_at]
                for r in data.pagerduty_incidents
            ],
        )
        _upsert(
            con,
            "pagerduty__log_entries",
            ["id"],
            [
                [r["id"], r["type"], r["incident"]["id"], parse_ts(r["created_at"]), json.dumps(r), batch_id, loaded_at]
                for r in data.pagerduty_log_entries
            ],
        )
        _upsert(
            con,
            "pagerduty__incident_alerts",
            ["incident_id", "id"],
            [
                [r["incident"]["id"], r["id"], r["status"], parse_ts(r["created_at"]), json.dumps(r), batch_id,
                 loaded_at]
                for r in data.pagerduty_alerts
            ],
        )
        _upsert(
            con,
            "jira__issues",
            ["id"],
            [
                [r["id"], parse_ts(r["fields"]["updated"]), json.dumps(r), batch_id, loaded_at]
                for r in data.jira_issues
            ],
        )
        _upsert(
            con,
            "github__pulls",
            ["repo", "number"],
            [
                [repo, r["number"], parse_ts(r["updated_at"]), json.dumps(r), batch_id, loaded_at]
                for repo, r in data.github_pulls
            ],
        )
        con.execute("delete from raw.config__services")
        con.executemany("insert into raw.config__services values (?, ?, ?)", data.config_services)
        con.execute("delete from raw.config__service_prices")
        if data.config_service_prices:
            con.executemany("insert into raw.config__service_prices values (?, ?, ?)", data.config_service_prices)
    finally:
        con.close()


def create_warehouse(path: Path, data: RawData, *, loaded_at: datetime = LOADED_AT) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(RAW_DDL)
    finally:
        con.close()
    load_raw(path, data, loaded_at=loaded_at)


def dbt_build_command(dbt_vars: Mapping[str, Any], extra_args: Sequence[str] = (), verb: str = "build") -> list[str]:
    """The pipeline's dbt invocation (project and profiles dirs are absolute: cwd may be anywhere)."""
    return [
        str(dbt_executable()),
        verb,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--vars",
        json.dumps(dict(dbt_vars)),
        *extra_args,
    ]


# The run's own values go to dbt as the pipeline passes them (environment variables, macros/run_parameters.sql), so
# the remaining vars, and with them dbt's parse, are the same from one scenario's build to the next.
RUN_PARAMETERS = ("run_date", "as_of", "run_id")


def run_dbt_build(
    warehouse: Path, dbt_vars: Mapping[str, Any], work_dir: Path, extra_args: Sequence[str] = (), verb: str = "build"
) -> subprocess.CompletedProcess[str]:
    """`dbt build` on `warehouse`; target/ and logs/ go to work_dir so parallel runs never share them. dbt runs
    beside the warehouse and names it relative, as the pipeline does, so a fresh work_dir starts from the parse
    of an earlier build with the same vars (opskpi/dbt_process.py) instead of parsing the whole project."""
    from opskpi import dbt_process

    work_dir.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in dbt_vars.items() if k not in RUN_PARAMETERS}
    env = {
        **os.environ,
        "OPSKPI_WAREHOUSE": warehouse.name,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_TARGET_PATH": str((work_dir / "target").absolute()),
        "DBT_LOG_PATH": str((work_dir / "logs").absolute()),
        "DBT_LOG_LEVEL_FILE": "info",
        **{f"OPSKPI_{name.upper()}": str(dbt_vars[name]) for name in RUN_PARAMETERS if name in dbt_vars},
    }
    return dbt_process.run(dbt_build_command(settings, extra_args, verb), env, warehouse.parent, work_dir / "target",
                           DBT_PROJECT_DIR, timeout=600)


def compile_inline(warehouse: Path, dbt_vars: Mapping[str, Any], work_dir: Path, sql: str) -> str:
    """The SQL dbt compiles `sql` (Jinja: the project's macros, ref()) to, against `warehouse` with `dbt_vars`."""
    result = run_dbt_build(warehouse, dbt_vars, work_dir, ["--quiet", "--inline", sql], verb="compile")
    if result.returncode != 0:
        raise AssertionError(f"dbt compile failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr}")
    return result.stdout


def check_dbt_build(
    warehouse: Path, dbt_vars: Mapping[str, Any], work_dir: Path, extra_args: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """`run_dbt_build`, raising AssertionError with dbt's output if the build fails."""
    result = run_dbt_build(warehouse, dbt_vars, work_dir, extra_args)
    if result.returncode != 0:
        raise AssertionError(
            f"dbt build failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr}"
        )
    return result


def area(*selectors: str) -> list[str]:
    """`dbt build` arguments for the part of the project a module checks: `+model+` (the model, what it reads and
    what reads it, with their tests) or `+model` (the model and what it reads), never the KPI snapshot's area,
    which reads every area (the snapshot's own module and the e2e runs build it). Tests run when every model they
    read is built (`cautious`: a relationship to a model of another area is that area's to check). A build of
    every node costs ~10 s of dbt's per-node overhead on hand-made data; an area a third or less of it.

    The detection area (tag `detection_area`: it reads incidents, log entries, alerts and DORA deployments) is a
    descendant of the incidents' and DORA's models but is built only by a module that names it (a selector with
    `detection`), not as a side effect of `+stg_pagerduty__log_entries+`. Likewise the maturity area (tag
    `maturity_area`: it reads nearly every area's marts) is built only by a module that names it."""
    exclude = ["tag:kpi_snapshot_area+"]
    if not any("detection" in selector for selector in selectors):
        exclude.append("tag:detection_area+")
    if not any("maturity" in selector for selector in selectors):
        exclude.append("tag:maturity_area+")
    return ["--select", *selectors, "--exclude", *exclude, "--indirect-selection", "cautious"]


def build_scenario(work_dir: Path, data: RawData, dbt_vars: Mapping[str, Any],
                   extra_args: Sequence[str] = ()) -> Path:
    """Fresh warehouse + one `dbt build`; raises AssertionError with dbt's output if the build fails."""
    work_dir.mkdir(parents=True, exist_ok=True)
    warehouse = work_dir / "warehouse.duckdb"
    create_warehouse(warehouse, data)
    check_dbt_build(warehouse, dbt_vars, work_dir, extra_args)
    return warehouse


def query(warehouse: Path, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()
