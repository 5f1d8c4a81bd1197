"""Security posture marts on hand-built GitHub alert records, every expected value worked out by hand.

Scenario (UTC; repos acme/api -> platform, acme/web -> growth; default SLAs critical 15 d, high 30, medium 90).
Night 1 (run_date 11-04, as_of 11-05 00:00): the API shows A2 dismissed, A3 and A4 open, A5 dismissed 11-04 10:00.
Night 2 (run_date 11-10, as_of 11-11 00:00), the API now shows:
  A1 dependabot critical  created 11-05 09:00, fixed 11-05 17:00     -> fixed the day it opened, TTR 8 h
  A2 dependabot high      created 11-01 00:00, dismissed 11-03 08:00 -> dismissed, no TTR
  A3 dependabot high      created 11-02 12:00, fixed 11-06 12:00     -> TTR 4 d
  A4 dependabot critical  created 10-26 00:00, open                  -> SLA due 11-10 00:00 = end of 11-09:
                                                                       not in breach on 11-09, in breach on 11-10
  A5 dependabot medium    created 10-20 00:00, open again: dismissed 11-04 10:00 (night 1 saw it), reopened
                          11-07 12:00 (the API cleared dismissed_at)  -> not open 11-04..11-06, open from 11-07
  C1 code scanning acme/web, rule.severity warning, no security_severity_level -> medium; created 11-08 12:00, open
  S1 secret scanning acme/web created 11-09 00:00, resolved revoked 06:00 -> resolved (remediation), TTR 6 h
  S2 secret scanning acme/web created 11-09 00:00, resolved false_positive 01:00 -> dismissed
Coverage: code scanning is not enabled on acme/api (404 "no analysis found"); everything else answered.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from extractors.streams import WINDOW_END
from opskpi.load import ensure_meta, ensure_raw_table
from opskpi.pipeline import declared_streams
from tests.integration.dbt_harness import RawData, area, check_dbt_build, create_warehouse, query, run_dbt_build

# The failing builds need only the security area; the main scenario builds everything (it reads the KPI snapshot).
AREA = area("+fct_security_alerts+", "+mart_security_posture_daily+", "+mart_security_coverage+",
            "+stg_github__pull_commits")

NIGHT1 = {"run_date": "2026-11-04", "as_of": "2026-11-05T00:00:00Z", "reporting_timezone": "UTC"}
NIGHT2 = {"run_date": "2026-11-10", "as_of": "2026-11-11T00:00:00Z", "reporting_timezone": "UTC"}


def dependabot(number: int, severity: str, created: str, state: str = "open", *, fixed: str | None = None,
               dismissed: str | None = None, updated: str | None = None) -> dict[str, Any]:
    vulnerability = {"package": {"ecosystem": "pip", "name": "django"}, "severity": severity,
                     "vulnerable_version_range": "< 2.0.2", "first_patched_version": {"identifier": "2.0.2"}}
    return {"number": number, "state": state,
            "dependency": {"package": {"ecosystem": "pip", "name": "django"}, "manifest_path": "requirements.txt",
                           "scope": "runtime", "relationship": "direct"},
            "security_advisory": {"ghsa_id": f"GHSA-{number}", "severity": severity,
                                  "vulnerabilities": [vulnerability]},
            "security_vulnerability": vulnerability,
            "html_url": f"https://github.com/acme/api/security/dependabot/{number}",
            "created_at": created, "updated_at": updated or fixed or dismissed or created,
            "dismissed_at": dismissed, "dismissed_reason": "tolerable_risk" if dismissed else None,
            "fixed_at": fixed, "auto_dismissed_at": None, "assignees": []}


def code_alert(number: int, created: str, rule_severity: str, level: str | None) -> dict[str, Any]:
    return {"number": number, "created_at": created, "updated_at": created, "state": "open", "fixed_at": None,
            "dismissed_at": None, "dismissed_reason": None,
            "rule": {"id": "py/empty-except", "severity": rule_severity, "security_severity_level": level},
            "tool": {"name": "CodeQL", "guid": None, "version": "2.19.3"}}


def secret_alert(number: int, created: str, resolved: str, resolution: str) -> dict[str, Any]:
    return {"number": number, "created_at": created, "updated_at": resolved, "state": "resolved",
            "resolution": resolution, "resolved_at": resolved, "secret_type": "aws_access_key_id"}


def ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


REPO_TEAMS = (("acme/api", "platform"), ("acme/web", "growth"))


def write_alerts(warehouse: Path, alerts: list[tuple], coverage: list[tuple] = (),
                 repo_teams: tuple[tuple[str, str], ...] = REPO_TEAMS) -> None:
    """Replace raw alert rows as the loader would (typed columns from the stream declarations + record JSON).
    An alert is (stream, repo, record), or (stream, repo, record, window end) for a stream that stamps its rows
    with the window they were read in (dependabot_open_alerts' listed_at)."""
    streams = {s.name: s for s in declared_streams() if s.name.endswith("_alerts")}
    con = duckdb.connect(str(warehouse))
    try:
        ensure_meta(con)
        for stream in streams.values():
            ensure_raw_table(con, stream.key, {c.name: c.kind for c in stream.columns})
        for stream_name, repo, record, *window_end in alerts:
            stream = streams[stream_name]
            values = []
            for column in stream.columns:
                value = column.value(record, {"repo": repo, WINDOW_END: window_end[0] if window_end else None})
                values.append(ts(value) if column.kind == "timestamp" else value)
            con.execute(f"delete from raw.{stream.key} where repo = ? and number = ?", [repo, record["number"]])
            names = ", ".join(c.name for c in stream.columns)
            marks = ", ".join("?" for _ in stream.columns)
            con.execute(f"insert into raw.{stream.key} ({names}, record, _batch_id, _loaded_at) "
                        f"values ({marks}, ?, 'b', now())", [*values, json.dumps(record)])
        for row in coverage:
            con.execute("insert into meta.stream_coverage values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(row))
        con.execute("create or replace table raw.config__repos (repo varchar, team varchar)")
        con.executemany("insert into raw.config__repos values (?, ?)", [list(pair) for pair in repo_teams])
    finally:
        con.close()


def coverage_row(stream: str, repo: str, status: str = "ok", code: int | None = None, message: str | None = None,
                 run: str = "r2") -> tuple:
    return ("github", stream, repo, status, code, message, 0, ts("2026-08-01T00:00:00Z"),
            ts("2026-11-11T00:00:00Z"), run, f"batch-{run}-{stream}", ts("2026-11-11T00:05:00Z"))


NIGHT1_ALERTS = [
    ("dependabot_alerts", "acme/api", dependabot(2, "high", "2026-11-01T00:00:00Z", "dismissed",
                                                 dismissed="2026-11-03T08:00:00Z")),
    ("dependabot_alerts", "acme/api", dependabot(3, "high", "2026-11-02T12:00:00Z")),
    ("dependabot_alerts", "acme/api", dependabot(4, "critical", "2026-10-26T00:00:00Z")),
    ("dependabot_alerts", "acme/api", dependabot(5, "medium", "2026-10-20T00:00:00Z", "dismissed",
                                                 dismissed="2026-11-04T10:00:00Z")),
]
NIGHT2_ALERTS = [
    ("dependabot_alerts", "acme/api", dependabot(1, "critical", "2026-11-05T09:00:00Z", "fixed",
                                                 fixed="2026-11-05T17:00:00Z")),
    ("dependabot_alerts", "acme/api", dependabot(3, "high", "2026-11-02T12:00:00Z", "fixed",
                                                 fixed="2026-11-06T12:00:00Z")),
    ("dependabot_alerts", "acme/api", dependabot(5, "medium", "2026-10-20T00:00:00Z", "open",
                                                 updated="2026-11-07T12:00:00Z")),
    ("code_scanning_alerts", "acme/web", code_alert(1, "2026-11-08T12:00:00Z", "warning", None)),
    ("secret_scanning_alerts", "acme/web", secret_alert(1, "2026-11-09T00:00:00Z", "2026-11-09T06:00:00Z", "revoked")),
    ("secret_scanning_alerts", "acme/web", secret_alert(2, "2026-11-09T00:00:00Z", "2026-11-09T01:00:00Z",
                                                        "false_positive")),
]
COVERAGE = [
    coverage_row("dependabot_alerts", "acme/api"), coverage_row("dependabot_alerts", "acme/web"),
    coverage_row("code_scanning_alerts", "acme/api", "not_enabled", 404, "no analysis found"),
    coverage_row("code_scanning_alerts", "acme/web"),
    coverage_row("secret_scanning_alerts", "acme/api"), coverage_row("secret_scanning_alerts", "acme/web"),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("security")
    path = work / "warehouse.duckdb"
    create_warehouse(path, RawData(config_services=[("PSVC1", "platform", 99.9)]))
    write_alerts(path, NIGHT1_ALERTS)
    check_dbt_build(path, NIGHT1, work / "night1")
    write_alerts(path, NIGHT2_ALERTS, COVERAGE)
    check_dbt_build(path, NIGHT2, work / "night2")
    return path


def posture(warehouse: Path, day: str, scope_id: str, tool: str, severity: str) -> dict[str, Any]:
    rows = query(warehouse, "select * from marts.mart_security_posture_daily where day = ? and scope_id = ? "
                            "and tool = ? and severity = ?", [date.fromisoformat(day), scope_id, tool, severity])
    assert len(rows) == 1, rows
    return rows[0]


def test_fct_security_alerts(warehouse):
    rows = {r["alert_key"]: r for r in query(warehouse, "select * from marts.fct_security_alerts")}
    assert set(rows) == {f"dependabot:acme/api#{n}" for n in (1, 2, 3, 4, 5)} | {
        "code_scanning:acme/web#1", "secret_scanning:acme/web#1", "secret_scanning:acme/web#2"}
    a1, a2 = rows["dependabot:acme/api#1"], rows["dependabot:acme/api#2"]
    assert (a1["close_reason"], a1["time_to_remediate_s"], a1["team"]) == ("fixed", 8 * 3600, "platform")
    assert (a2["close_reason"], a2["time_to_remediate_s"], a2["is_remediated"]) == ("dismissed", None, False)
    a4 = rows["dependabot:acme/api#4"]
    assert (a4["sla_days"], a4["sla_due_at"]) == (15, datetime(2026, 11, 10, tzinfo=UTC))
    a5 = rows["dependabot:acme/api#5"]
    assert (a5["state"], a5["closed_at"], a5["close_reason"]) == ("open", None, None)
    assert rows["code_scanning:acme/web#1"]["severity"] == "medium"  # rule.severity warning, no security level
    s1, s2 = rows["secret_scanning:acme/web#1"], rows["secret_scanning:acme/web#2"]
    assert (s1["severity"], s1["close_reason"], s1["time_to_remediate_s"]) == ("critical", "resolved", 6 * 3600)
    assert (s2["close_reason"], s2["time_to_remediate_s"]) == ("dismissed", None)


def test_fixed_the_day_it_opened(warehouse):
    row = posture(warehouse, "2026-11-05", "acme/api", "dependabot", "critical")
    # A4 stays open; A1 opened and was fixed within the day
    assert (row["opened"], row["fixed"], row["dismissed"], row["open"]) == (1, 1, 0, 1)
    assert row["ttr_days_mean"] == pytest.approx(8 / 24) and row["ttr_days_p50"] == pytest.approx(8 / 24)


def test_dismissed_is_not_remediation(warehouse):
    high_02 = posture(warehouse, "2026-11-02", "acme/api", "dependabot", "high")
    assert (high_02["open"], high_02["opened"]) == (2, 1)  # A2 and A3
    high_03 = posture(warehouse, "2026-11-03", "acme/api", "dependabot", "high")
    assert (high_03["open"], high_03["dismissed"], high_03["fixed"], high_03["ttr_days_mean"]) == (1, 1, 0, None)
    high_06 = posture(warehouse, "2026-11-06", "acme/api", "dependabot", "high")
    assert (high_06["open"], high_06["fixed"], high_06["ttr_days_mean"]) == (0, 1, pytest.approx(4.0))


def test_sla_breach_exactly_at_the_boundary(warehouse):
    day9 = posture(warehouse, "2026-11-09", "acme/api", "dependabot", "critical")
    assert (day9["open"], day9["in_breach"], day9["sla_compliance_pct"]) == (1, 0, 100.0)
    assert day9["oldest_open_age_days"] == pytest.approx(15.0)  # exactly its SLA: not yet a breach
    day10 = posture(warehouse, "2026-11-10", "acme/api", "dependabot", "critical")
    assert (day10["open"], day10["in_breach"], day10["sla_compliance_pct"]) == (1, 1, 0.0)
    assert day10["oldest_open_age_days"] == pytest.approx(16.0)


def test_reopened_alert_snapshot_wins(warehouse):
    expected = {"2026-11-03": 1, "2026-11-04": 0, "2026-11-05": 0, "2026-11-06": 0, "2026-11-07": 1,
                "2026-11-10": 1}
    got = {day: posture(warehouse, day, "acme/api", "dependabot", "medium")["open"] for day in expected}
    assert got == expected  # reconstruction alone would say 1 every day
    assert posture(warehouse, "2026-11-04", "acme/api", "dependabot", "medium")["dismissed"] == 1
    history = query(warehouse, "select snapshot_date, alert_key, is_open from "
                               "intermediate.int_security__alert_state_history "
                               "where alert_key = 'dependabot:acme/api#5' order by 1")
    assert [(r["snapshot_date"].isoformat(), r["is_open"]) for r in history] == [("2026-11-04", False),
                                                                               ("2026-11-10", True)]


def test_disabled_scanner_coverage_and_grid(warehouse):
    coverage = query(warehouse, "select repo, tool, enabled, status_code, message from marts.mart_security_coverage "
                                "where is_latest order by repo, tool")
    assert ("acme/api", "code_scanning", False, 404, "no analysis found") in [tuple(r.values()) for r in coverage]
    assert sum(1 for r in coverage if r["enabled"]) == 5
    cells = query(warehouse, "select distinct repo, tool from marts.mart_security_posture_daily "
                             "where scope_type = 'repo' order by 1, 2")
    assert [(r["repo"], r["tool"]) for r in cells] == [
        ("acme/api", "dependabot"), ("acme/api", "secret_scanning"),
        ("acme/web", "code_scanning"), ("acme/web", "dependabot"), ("acme/web", "secret_scanning")]
    # dense: 10-20 (first alert) .. 11-10 = 22 days x 5 cells x 4 severities
    assert query(warehouse, "select count(*) as n from marts.mart_security_posture_daily "
                            "where scope_type = 'repo'")[0]["n"] == 22 * 5 * 4


def test_roll_ups_and_kpis(warehouse):
    org = posture(warehouse, "2026-11-09", "org", "secret_scanning", "critical")
    assert (org["opened"], org["fixed"], org["dismissed"], org["open"]) == (2, 1, 1, 0)
    assert org["ttr_days_mean"] == pytest.approx(0.25)
    team = posture(warehouse, "2026-11-10", "growth", "code_scanning", "medium")
    assert (team["open"], team["repo"], team["team"]) == (1, None, "growth")
    kpis = {(r["kpi"], r["scope_id"], r["window"]): (r["value"], r["sample_size"]) for r in query(
        warehouse, "select * from marts.kpi_daily_snapshot where snapshot_date = date '2026-11-10' "
                   "and kpi in ('alerts_open_critical', 'alerts_open_high', 'alerts_open_medium', 'alerts_in_breach', "
                   "'sla_compliance', 'time_to_remediate_mean', 'time_to_remediate_p50')")}
    assert kpis[("alerts_open_critical", "org", "1d")] == (1, 1)
    assert kpis[("alerts_open_high", "org", "1d")] == (0, 0)
    assert kpis[("alerts_open_medium", "org", "1d")] == (2, 2)  # A5 and C1
    assert kpis[("alerts_in_breach", "org", "1d")] == (1, 1)
    assert kpis[("sla_compliance", "org", "1d")][0] == pytest.approx(200 / 3)
    # 7d = 11-04..11-10: A1 8 h, A3 4 d, S1 6 h
    assert kpis[("time_to_remediate_mean", "org", "7d")] == (pytest.approx((28800 + 345600 + 21600) / 3), 3)
    assert kpis[("time_to_remediate_p50", "org", "7d")] == (pytest.approx(28800), 3)
    assert kpis[("time_to_remediate_mean", "growth", "7d")] == (pytest.approx(21600), 1)
    assert kpis[("time_to_remediate_mean", "org", "1d")] == (None, 0)


def test_patch_kpis(warehouse):
    """Dependabot only (default clock alert_created): A1 met on 11-05 (fixed 8 h after creation), A3 met on 11-06 (4 d),
    A4 missed on 11-10 (due 11-10 00:00, still open), A2 and A5 dismissed before their deadlines (A5's dismissal
    is known from night 1 only): not judged. No record carries security_advisory.published_at."""
    kpis = {(r["kpi"], r["window"]): (r["value"], r["sample_size"]) for r in query(
        warehouse, "select * from marts.kpi_daily_snapshot where snapshot_date = date '2026-11-10' "
                   "and scope_id = 'org' and (kpi like '%patch%')")}
    assert kpis[("patch_compliance", "7d")] == (pytest.approx(200 / 3), 3)
    assert kpis[("patch_compliance", "1d")] == (0.0, 1)
    assert kpis[("time_to_patch_mean", "7d")] == (pytest.approx((28800 + 345600) / 2), 2)
    assert kpis[("time_to_patch_p50", "7d")] == (pytest.approx((28800 + 345600) / 2), 2)
    assert kpis[("time_to_patch_mean", "1d")] == (None, 0)
    assert kpis[("disclosure_to_patch_p50", "30d")] == (None, 0)  # unknown: no published_at
    assert kpis[("patch_policy_breaches", "1d")] == (1, 1)  # A4
    assert ("patch_policy_breaches", "7d") not in kpis


def test_unknown_severity_fails_naming_the_alert(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    create_warehouse(path, RawData(config_services=[("PSVC1", "platform", 99.9)]))
    write_alerts(path, [("dependabot_alerts", "acme/api", dependabot(6, "moderate", "2026-11-05T09:00:00Z"))])
    result = run_dbt_build(path, NIGHT2, tmp_path / "dbt", AREA)
    assert result.returncode != 0
    assert "security alert dependabot:acme/api#6 has unknown severity 'moderate'" in result.stdout
    rows = query(path, "select alert_key, severity, severity_known from marts.fct_security_alerts")
    assert rows == [{"alert_key": "dependabot:acme/api#6", "severity": "moderate", "severity_known": False}]


def test_a_null_in_a_required_column_fails_the_build_naming_the_column(tmp_path):
    """`row_rules` (one test per model for its required columns, keys, values and ranges) fails on a null, and the
    pipeline's failure sampler (opskpi/dbt_failures.py) names the rule, the column and how many rows break it."""
    from opskpi import dbt_failures

    path = tmp_path / "warehouse.duckdb"
    create_warehouse(path, RawData(config_services=[("PSVC1", "platform", 99.9)]))
    with duckdb.connect(str(path)) as con:
        con.execute("insert into raw.github__pull_commits (repo, pull_number, sha, record, _batch_id, _loaded_at) "
                    "values ('acme/api', 7, null, '{}', 'b', now()), ('acme/api', 7, 'abc', '{}', 'b', now())")
    result = run_dbt_build(path, NIGHT2, tmp_path / "dbt", AREA)
    assert result.returncode != 0
    assert "source_row_rules_github_pull_commits_repo__pull_number__sha" in result.stdout
    with duckdb.connect(str(path), read_only=True) as con:
        described = dbt_failures.describe(con, tmp_path / "dbt" / "target" / "run_results.json")
    assert described == ["test source_row_rules_github_pull_commits_repo__pull_number__sha failed (1 rows): "
                         "rule=not_null; column_name=sha; bad_rows=1; allowed=a value"], described
