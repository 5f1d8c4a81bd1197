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
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from extractors.streams import WINDOW_END
from opskpi.load import ensure_meta, ensure_raw_table
from opskpi.pipeline import declared_streams
from tests.integration import patch_scenario as ps
from tests.integration.dbt_harness import RawData, area, check_dbt_build, create_warehouse, query, run_dbt_build
from tests.integration.patch_scenario import DAY, DECISIONS, STOCK, figures

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
def nights(tmp_path_factory) -> dict[str, Any]:
    """The two nights (with the patch scenario of patch_scenario.py beside the posture one), what the patch mart
    said after each, and a backfill of 10-20 with patch_clock advisory_published on a copy of night 2's warehouse
    (the patch models only; the nightly history and the staging views stay as night 2 left them)."""
    work = tmp_path_factory.mktemp("security")
    path = work / "warehouse.duckdb"
    create_warehouse(path, RawData(config_services=[("PSVC1", "platform", 99.9)]))
    write_alerts(path, NIGHT1_ALERTS + ps.NIGHT1_ROWS, ps.WALKS1, REPO_TEAMS + ps.REPO_TEAMS)
    check_dbt_build(path, NIGHT1, work / "night1")
    out: dict[str, Any] = {"path": path, "night1": ps.patch_rows(path)}
    write_alerts(path, NIGHT2_ALERTS + ps.NIGHT2_ROWS, COVERAGE + ps.WALKS2, REPO_TEAMS + ps.REPO_TEAMS)
    check_dbt_build(path, NIGHT2, work / "night2")
    out["night2"] = ps.patch_rows(path)
    backfill = work / "backfill" / path.name
    backfill.parent.mkdir()
    shutil.copyfile(path, backfill)
    check_dbt_build(backfill, ps.BACKFILL, work / "backfill" / "dbt", ps.PATCH_MODELS)
    out["backfill"] = ps.patch_rows(backfill)
    return out


@pytest.fixture(scope="module")
def warehouse(nights) -> Path:
    return nights["path"]


def posture(warehouse: Path, day: str, scope_id: str, tool: str, severity: str) -> dict[str, Any]:
    rows = query(warehouse, "select * from marts.mart_security_posture_daily where day = ? and scope_id = ? "
                            "and tool = ? and severity = ?", [date.fromisoformat(day), scope_id, tool, severity])
    assert len(rows) == 1, rows
    return rows[0]


def test_fct_security_alerts(warehouse):
    rows = {r["alert_key"]: r for r in query(warehouse, "select * from marts.fct_security_alerts")}
    assert set(rows) == {f"dependabot:acme/api#{n}" for n in (1, 2, 3, 4, 5)} | {
        "code_scanning:acme/web#1", "secret_scanning:acme/web#1", "secret_scanning:acme/web#2"} | ps.KEYS
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
    every_tool = [("dependabot",), ("code_scanning",), ("secret_scanning",)]
    assert [(r["repo"], r["tool"]) for r in cells] == [
        ("acme/api", "dependabot"), ("acme/api", "secret_scanning"),
        *sorted(("acme/ops", *t) for t in every_tool), *sorted(("acme/pay", *t) for t in every_tool),
        ("acme/web", "code_scanning"), ("acme/web", "dependabot"), ("acme/web", "secret_scanning")]
    # dense: 10-01 (first alert: the patch scenario's) .. 11-10 = 41 days x 11 cells x 4 severities
    assert query(warehouse, "select count(*) as n from marts.mart_security_posture_daily "
                            "where scope_type = 'repo'")[0]["n"] == 41 * 11 * 4


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
    # with the patch scenario (patch_scenario.py): P8 and O1 critical, P5 high, P9 low open; P7 withdrawn 11-05,
    # P6 at the day's end
    assert kpis[("alerts_open_critical", "org", "1d")] == (3, 3)  # A4, P8, O1
    assert kpis[("alerts_open_high", "org", "1d")] == (1, 1)  # P5
    assert kpis[("alerts_open_medium", "org", "1d")] == (2, 2)  # A5 and C1
    assert kpis[("alerts_in_breach", "org", "1d")] == (4, 4)  # A4, P8, O1, P5 (due 11-09)
    assert kpis[("sla_compliance", "org", "1d")][0] == pytest.approx(100 * 3 / 7)  # + P9 (low) open
    # 7d = 11-04..11-10: A1 8 h, A3 4 d, S1 6 h, P13 12 d
    assert kpis[("time_to_remediate_mean", "org", "7d")] == (
        pytest.approx((28800 + 345600 + 21600 + 1036800) / 4), 4)
    assert kpis[("time_to_remediate_p50", "org", "7d")] == (pytest.approx((28800 + 345600) / 2), 4)
    assert kpis[("time_to_remediate_mean", "growth", "7d")] == (pytest.approx(21600), 1)
    assert kpis[("time_to_remediate_mean", "org", "1d")] == (None, 0)


def test_patch_kpis(warehouse):
    """Dependabot only (default clock alert_created). 7d = 11-04..11-10: A1 met on 11-05 (fixed 8 h after creation),
    A3 met on 11-06 (4 d), P13 met on 11-08 (12 d), P5 missed on 11-09, A4 missed on 11-10 (due 11-10 00:00, open);
    A2 and A5 were dismissed before their deadlines (A5's dismissal is known from night 1 only): not judged. Of
    those fixes only P13's advisory has a published_at (10-26: 13 d)."""
    kpis = {(r["kpi"], r["window"]): (r["value"], r["sample_size"]) for r in query(
        warehouse, "select * from marts.kpi_daily_snapshot where snapshot_date = date '2026-11-10' "
                   "and scope_id = 'org' and (kpi like '%patch%')")}
    assert kpis[("patch_compliance", "7d")] == (60.0, 5)
    assert kpis[("patch_compliance", "1d")] == (0.0, 1)
    assert kpis[("time_to_patch_mean", "7d")] == (pytest.approx((28800 + 345600 + 1036800) / 3), 3)
    assert kpis[("time_to_patch_p50", "7d")] == (pytest.approx(345600), 3)
    assert kpis[("time_to_patch_mean", "1d")] == (None, 0)
    assert kpis[("disclosure_to_patch_p50", "7d")] == (pytest.approx(13 * 86400), 1)
    assert kpis[("patch_policy_breaches", "1d")] == (4, 4)  # A4, P8, O1, P5
    assert ("patch_policy_breaches", "7d") not in kpis


def dependabot_posture(warehouse: Path) -> dict[tuple, dict[str, Any]]:
    return {(r["day"].isoformat()[5:], r["scope_id"], r["severity"]): r for r in query(
        warehouse, "select * from marts.mart_security_posture_daily where tool = 'dependabot'")}


def patch_alerts(warehouse: Path) -> dict[str, dict[str, Any]]:
    return {r["alert_key"]: r for r in query(
        warehouse, "select p.*, f.close_reason, f.closed_at from intermediate.int_security__patch_alerts p "
                   "join marts.fct_security_alerts f using (alert_key)")}


def test_decisions_once_per_alert_at_the_earlier_of_fix_and_deadline(nights, warehouse):
    got = nights["night2"]
    assert figures(got[("10-16", "acme/pay", "critical")], *DECISIONS) == (1, 2, 3, pytest.approx(100 / 3), 0)
    assert figures(got[("10-03", "acme/pay", "critical")], *DECISIONS) == (0, 0, 0, None, 1)  # P3: not judged
    assert figures(got[("10-20", "acme/pay", "critical")], *DECISIONS) == (0, 0, 0, None, 0)  # P4's dismissal, P2's fix
    assert figures(got[("11-09", "acme/pay", "high")], *DECISIONS) == (0, 1, 1, 0.0, 0)  # P5 came due still open
    decided = {key: row["decided"] for key, row in got.items() if key[1] == "acme/pay" and key[2] == "all"
               and row["decided"]}
    # P8 10-06, P10 10-14, P1/P2/P4 10-16, P11 10-18, P12 10-21 (its creation: fixed "before" it), P14 10-24,
    # P13 11-08, P5 11-09; never P3 (dismissed in time), P6, P7 (withdrawn), P9 (not due)
    assert decided == {("10-06", "acme/pay", "all"): 1, ("10-14", "acme/pay", "all"): 1,
                       ("10-16", "acme/pay", "all"): 3, ("10-18", "acme/pay", "all"): 1,
                       ("10-21", "acme/pay", "all"): 1, ("10-24", "acme/pay", "all"): 1,
                       ("11-08", "acme/pay", "all"): 1, ("11-09", "acme/pay", "all"): 1}
    outcomes = {r["alert_key"].split(":")[1]: r["outcome"] for r in query(
        warehouse, "select alert_key, outcome from intermediate.int_security__patch_alerts "
                   "where alert_key like '%acme/pay%' or alert_key like '%acme/ops%'")}
    assert outcomes == {**{f"acme/pay#{n}": outcome for n, outcome in (
        (1, "met"), (2, "missed"), (3, "dismissed_before_due"), (4, "missed"), (5, "missed"), (6, "withdrawn"),
        (7, "withdrawn"), (8, "met"), (9, None), (10, "met"), (11, "met"), (12, "met"), (13, "met"), (14, "met"))},
        "acme/ops#1": "missed"}
    # O1's repository (acme/ops): missed on 10-16; the org pools both repositories
    assert figures(got[("10-16", "org", "critical")], "met", "missed") == (1, 3)
    assert figures(got[("10-16", "payments", "all")], "met", "missed") == (1, 3)


def test_time_to_patch_and_disclosure_per_day_of_the_fix(nights, warehouse):
    got = nights["night2"]
    cols = ("time_to_patch_s_mean", "time_to_patch_s_p50", "time_to_patch_sample_size", "disclosure_to_patch_s_p50",
            "disclosure_to_patch_sample_size")
    assert figures(got[("10-16", "acme/pay", "critical")], *cols) == (15 * DAY, 15 * DAY, 1, 16 * DAY, 1)
    assert figures(got[("10-20", "acme/pay", "critical")], *cols) == (19 * DAY, 19 * DAY, 1, 20 * DAY, 1)
    assert figures(got[("10-06", "acme/pay", "critical")], *cols) == (4 * DAY, 4 * DAY, 1, 5 * DAY, 1)  # P8's 1st fix
    p10 = got[("10-14", "acme/pay", "high")]  # no published_at: a time to patch, no disclosure sample
    assert figures(p10, *cols, "disclosure_to_patch_unknown", "disclosure_to_patch_coverage_pct") == (
        2 * DAY, 2 * DAY, 1, None, 0, 1, 0.0)
    p11 = got[("10-18", "acme/pay", "medium")]  # published after the alert: clamped to created_at, counted
    assert figures(p11, "disclosure_to_patch_s_p50", "advisory_after_alert", "disclosure_to_patch_coverage_pct") == (
        3 * DAY, 1, 100.0)
    p12 = got[("10-21", "acme/pay", "critical")]  # fixed 6 h "before" it was created: clamped and counted
    assert figures(p12, "time_to_patch_s_mean", "time_to_patch_clamped", "disclosure_to_patch_s_p50") == (
        0, 1, 18 * 3600)
    # pooled over the severities and the repositories
    org_16 = got[("10-16", "org", "all")]
    assert figures(org_16, "time_to_patch_s_mean", "time_to_patch_sample_size") == (15 * DAY, 1)
    assert figures(got[("10-17", "org", "all")], "time_to_patch_s_mean", "time_to_patch_sample_size",
                   "disclosure_to_patch_coverage_pct") == (None, 0, None)


def test_time_to_patch_is_time_to_remediate_where_not_negative(nights, warehouse):
    """The existing posture TTR restricted to Dependabot (days) equals time to patch (s) in every cell whose fixes
    needed no clamping."""
    compared, posture_cells = 0, dependabot_posture(warehouse)
    for (day, scope, severity), row in nights["night2"].items():
        if severity == "all" or row["time_to_patch_clamped"]:
            continue
        posture = posture_cells[(day, scope, severity)]
        if row["time_to_patch_sample_size"]:
            assert posture["ttr_days_mean"] * DAY == pytest.approx(row["time_to_patch_s_mean"]), (day, scope)
            assert posture["fixed"] == row["time_to_patch_sample_size"]
            compared += 1
        else:
            assert posture["ttr_days_mean"] is None
    assert compared >= 3 * 7  # every fix day, at repo, team and org scope


def test_past_policy_with_alert_created_is_the_posture_in_breach(nights, warehouse):
    checked, posture_cells = 0, dependabot_posture(warehouse)
    for (day, scope, severity), row in nights["night2"].items():
        if severity != "all":
            posture = posture_cells[(day, scope, severity)]
            assert (row["open"], row["past_policy"]) == (posture["open"], posture["in_breach"]), (day, scope, severity)
            checked += row["past_policy"] > 0
    assert checked > 20


def test_open_and_past_policy_by_hand(nights, warehouse):
    got = nights["night2"]
    crit = {day: figures(got[(day, "acme/pay", "critical")], *STOCK) for day in
            ("10-02", "10-05", "10-06", "10-15", "10-16", "10-19", "10-20", "11-06", "11-07", "11-08", "11-10")}
    assert crit == {
        "10-02": (5, 0, 0),  # P1, P2, P3, P4, P8 (P3 dismissed 10-03 00:00 = the day's end: still open)
        "10-05": (5, 0, 0),  # P1, P2, P4, P8 (fixed 10-06 00:00), P6
        "10-06": (4, 0, 0),  # P8 fixed
        "10-15": (4, 0, 0),  # due 10-16 00:00 = the day's end: not yet past policy
        "10-16": (3, 2, 0),  # P2, P4 past policy, P6 not yet
        "10-19": (3, 2, 0),
        "10-20": (1, 1, 0),  # P2 fixed and P4 dismissed at 00:00; P6 due 10-20
        "11-06": (2, 1, 0),  # P6, P13; P8 still closed: its reintroduction moved updated_at to 11-07 00:00
        "11-07": (3, 2, 0),  # P8 open again, past its deadline of 10-17
        "11-08": (2, 2, 0),  # P13 fixed
        "11-10": (1, 1, 0),  # P6 withdrawn at 11-11 00:00, the day's end: gone; P8 left
    }
    high = {day: figures(got[(day, "acme/pay", "high")], *STOCK) for day in ("11-04", "11-05", "11-09")}
    assert high == {"11-04": (2, 0, 0),  # P5, P7 (due 11-05 00:00 = the day's end)
                    "11-05": (1, 0, 0),  # P7's advisory withdrawn 11-05 12:00: gone, never past policy
                    "11-09": (1, 1, 0)}  # P5 due 11-09 00:00
    assert figures(got[("11-10", "acme/pay", "all")], *STOCK) == (3, 2, 1)  # P5, P8, P9 (no patched version)
    assert figures(got[("11-10", "acme/ops", "critical")], *STOCK) == (1, 1, 0)  # O1: a not_enabled walk is no walk


def test_withdrawn_alerts_close_in_the_existing_marts(nights, warehouse):
    withdrawn = {r["alert_key"]: (r["withdrawn_at"], r["detected_by"]) for r in query(
        warehouse, "select * from intermediate.int_security__withdrawn_alerts")}
    assert withdrawn == {"dependabot:acme/pay#6": (datetime(2026, 11, 11, tzinfo=UTC), "open_walk"),
                         "dependabot:acme/pay#7": (datetime(2026, 11, 5, 12, tzinfo=UTC), "advisory_withdrawn_at")}
    alerts = patch_alerts(warehouse)
    p6, p7 = alerts["dependabot:acme/pay#6"], alerts["dependabot:acme/pay#7"]
    assert (p6["close_reason"], p6["closed_at"]) == ("withdrawn", datetime(2026, 11, 11, tzinfo=UTC))
    assert (p7["close_reason"], p7["closed_at"]) == ("withdrawn", datetime(2026, 11, 5, 12, tzinfo=UTC))
    posture = dependabot_posture(warehouse)
    assert figures(posture[("11-05", "acme/pay", "high")], "withdrawn", "dismissed", "open") == (1, 0, 1)
    assert figures(posture[("11-10", "acme/pay", "critical")], "open", "in_breach") == (1, 1)  # P8 only


def test_case5_night2_takes_back_what_night1_judged(nights, warehouse):
    """P6 was open and missed (due 10-20) as night 1 saw it; night 2's complete walk no longer lists it."""
    night1, night2 = nights["night1"], nights["night2"]
    assert figures(night1[("10-20", "acme/pay", "critical")], "missed", "decided") == (1, 1)
    assert figures(night1[("11-04", "acme/pay", "critical")], *STOCK) == (2, 1, 0)  # P6 past policy, P13
    assert figures(night2[("10-20", "acme/pay", "critical")], "missed", "decided") == (0, 0)
    assert max(day for day, _, _ in night1) == "11-04" and max(day for day, _, _ in night2) == "11-10"


def test_case6_reintroduced_stays_met(nights, warehouse):
    assert figures(nights["night1"][("10-06", "acme/pay", "critical")], "met", "decided") == (1, 1)
    assert figures(nights["night2"][("10-06", "acme/pay", "critical")], "met", "decided") == (1, 1)
    assert patch_alerts(warehouse)["dependabot:acme/pay#8"]["first_fixed_at"] == datetime(2026, 10, 6, tzinfo=UTC)


def test_late_arriving_fix_is_decided_when_it_arrives(nights, warehouse):
    """P14 (fixed 10-24) reached the warehouse only on night 2; P13 was pending on night 1 (due 11-11)."""
    night1, night2 = nights["night1"], nights["night2"]
    assert figures(night1[("10-24", "acme/pay", "medium")], "met", "time_to_patch_sample_size") == (0, 0)
    assert figures(night2[("10-24", "acme/pay", "medium")], "met", "time_to_patch_s_p50") == (1, 16 * DAY)
    assert patch_alerts(warehouse)["dependabot:acme/pay#13"]["outcome"] == "met"
    assert figures(night2[("11-08", "acme/pay", "critical")], "met", "time_to_patch_s_p50") == (1, 12 * DAY)


def test_backfill_of_a_past_day_with_the_advisory_published_clock(nights):
    """10-20 rebuilt after night 2 (as_of 10-21 00:00) with deadlines counted from the advisory's publication
    (created - 1 day, unless said): only what was known by then, and every deadline one day earlier."""
    got = nights["backfill"]
    assert (min(day for day, _, _ in got), max(day for day, _, _ in got)) == ("10-01", "10-20")
    # P5: published 40 days before its creation, due 09-30: missed on the day it was created, past policy since
    # (P7, due 11-04, is open beside it); the SLA breach (from creation) says nothing of it until 11-09
    assert figures(got[("10-10", "acme/pay", "high")], "missed", "decided", "open", "past_policy") == (1, 1, 2, 1)
    assert figures(got[("10-20", "acme/pay", "high")], "open", "past_policy") == (2, 1)  # P5, P7 (P10 fixed)
    # P1 fixed 10-16 but due 10-15 (published 09-30): missed with P2 and P4 on 10-15, nothing on 10-16
    assert figures(got[("10-15", "acme/pay", "critical")], *DECISIONS) == (0, 3, 3, 0.0, 0)
    assert figures(got[("10-16", "acme/pay", "critical")], "met", "missed") == (0, 0)
    assert figures(got[("10-03", "acme/pay", "critical")], "dismissed_before_due") == (1,)
    # P6 was not withdrawn as of 10-21 (the walk that missed it ran on 11-11): judged, missed on 10-19
    assert figures(got[("10-19", "acme/pay", "critical")], "missed") == (1,)
    assert figures(got[("10-20", "acme/pay", "critical")], "open", "past_policy", "time_to_patch_s_p50") == (
        1, 1, 19 * DAY)  # P6; P2's fix at 10-20 00:00
    # P10 has no published_at: no deadline, not judged; its fix still has a time to patch
    assert figures(got[("10-12", "acme/pay", "high")], "clock_unknown", "decided") == (1, 0)
    assert figures(got[("10-14", "acme/pay", "high")], "met", "time_to_patch_sample_size") == (0, 1)
    assert got[("10-06", "acme/pay", "critical")]["met"] == 1  # P8, from the nightly history's closing


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


def test_an_instant_exactly_at_a_days_end_belongs_to_the_next_day_unless_configured(nights, tmp_path):
    """Issue 18, item 4 (docs/metrics.md "Security posture", `security.day_end`). By default an instant exactly at a
    day's end belongs to the next day, as `opened` and the closings are counted: S1 and S2, created at 11-09 00:00
    (the end of 11-08), are open from 11-09; P2, fixed at 10-20 00:00, is open on 10-19 and its fix is counted on
    10-20. With `this_day` (the KPI contract's wording: open on d when created_at <= end of d and not closed by the
    end of d) every alert created at a midnight is open one day earlier, the day before it is counted as opened, and
    every alert closed (or, P8, reopened) at a midnight one day earlier, except where a nightly snapshot decides the
    day (11-10: P6, fixed 11-11 00:00, stays as the night saw it). Alerts created on 10-01 would be open on 09-30,
    before the grid."""
    contract = tmp_path / "warehouse.duckdb"
    shutil.copyfile(nights["path"], contract)
    check_dbt_build(contract, {**NIGHT2, "security_day_end": "this_day"}, tmp_path / "dbt", AREA)
    sql = "select day, alert_key from intermediate.int_security__alert_days"  # the days each alert is open
    # (day, alert) with the alert as `repo#number`, tool dependabot unless named
    default, this_day = ({(str(r["day"])[5:], r["alert_key"].removeprefix("dependabot:")) for r in query(path, sql)}
                         for path in (nights["path"], contract))
    created_at_midnight = {  # created at 00:00 of the next day; none of them closed by then
        ("10-01", "acme/pay#8"), ("10-04", "acme/pay#6"), ("10-05", "acme/pay#7"), ("10-07", "acme/pay#14"),
        ("10-09", "acme/pay#5"), ("10-09", "acme/pay#9"), ("10-11", "acme/pay#10"), ("10-14", "acme/pay#11"),
        ("10-19", "acme/api#5"), ("10-25", "acme/api#4"), ("10-26", "acme/pay#13"), ("10-31", "acme/api#2"),
        ("11-08", "secret_scanning:acme/web#1"), ("11-08", "secret_scanning:acme/web#2"),
        ("11-06", "acme/pay#8"),  # P8 reopened 11-07 00:00: open again at the end of 11-06
    }
    closed_at_midnight = {  # closed at 00:00 of the next day
        ("10-02", "acme/pay#3"), ("10-13", "acme/pay#10"), ("10-15", "acme/pay#1"), ("10-17", "acme/pay#11"),
        ("10-19", "acme/pay#2"), ("10-19", "acme/pay#4"), ("10-23", "acme/pay#14"), ("11-07", "acme/pay#13"),
        ("10-05", "acme/pay#8"),  # P8's closing seen by the nightly history, 10-06 00:00
    }
    assert (this_day - default, default - this_day) == (created_at_midnight, closed_at_midnight)
    web = posture(contract, "2026-11-08", "acme/web", "secret_scanning", "critical")
    assert (web["open"], web["opened"]) == (2, 0)  # the contract's reading: open the day before they were opened
    assert (posture(nights["path"], "2026-11-08", "acme/web", "secret_scanning", "critical")["open"],
            posture(nights["path"], "2026-11-09", "acme/web", "secret_scanning", "critical")["opened"]) == (0, 2)
