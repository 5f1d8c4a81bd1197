"""The nightly KPI snapshot (dbt): kpi_daily_snapshot values, its history, and pipeline_health_daily.

Hand-built incidents with every expected number worked out by hand in the comments. One warehouse goes
through four builds: run 1 (03-09, creates the table and backfills 03-02..03-08), run 2 (03-10), run 3
(03-10 again, after late data that would change 03-09 if it were recomputed) and run 4 (`--full-refresh`).

Scenario (UTC, window from the first incident, 03-02):
  svc-api (team payments, SLO 99.0)   i1 high 03-02 10:00-11:00, ack +6 min (TTA 360, TTR 3600)
                                      i3 low  03-08 12:00 - 03-09 12:00, ack +40 min (TTA 2400, TTR 86400)
  svc-web (team web, SLO 99.5)        i2 high 03-05 00:00-02:00, ack +10 min (TTA 600, TTR 7200)
                                      i4 high 03-10 06:00, open, ack +20 min (TTA 1200); as_of 03-10 12:00
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

try:  # tests/integration as a package
    from . import dbt_harness as h
except ImportError:  # rootdir-relative
    import dbt_harness as h  # type: ignore[no-redef]

pytestmark = pytest.mark.skipif(not h.dbt_executable().exists(), reason="dbt is not installed in this venv")

APPROX = {"rel": 1e-9, "abs": 1e-9}
DAY = 86_400
API = ("svc-api", "Checkout API")
WEB = ("svc-web", "Web Frontend")
BASE_VARS = {"reporting_timezone": "UTC", "default_slo_target_pct": 99.9, "downtime_urgencies": ["high"],
             "downtime_priorities": [], "jira_incident_issue_types": [],
             # security incidents: svc-web's (i2, i4) and i1 by its title, until late_data renames it
             "security_incident_service_ids": ["svc-web"], "security_incident_title_pattern": "^incident i1$"}
PRICES = [("svc-web", 1.0, None)]  # downtime cost 1 per minute; svc-api unpriced
RUN1 = {**BASE_VARS, "run_date": "2026-03-09", "as_of": "2026-03-10T00:00:00Z", "run_id": "run-1"}
RUN2 = {**BASE_VARS, "run_date": "2026-03-10", "as_of": "2026-03-10T12:00:00Z", "run_id": "run-2"}
RUN3 = {**RUN2, "run_id": "run-3"}
RUN4 = {**RUN2, "run_id": "run-4"}


def lifecycle(incident_id: str, created: str, ack: str, resolved: str | None = None) -> list[dict[str, Any]]:
    entries = [h.pd_log_entry(f"{incident_id}-trigger", "trigger_log_entry", incident_id, created),
               h.pd_log_entry(f"{incident_id}-ack", "acknowledge_log_entry", incident_id, ack)]
    if resolved:
        entries.append(h.pd_log_entry(f"{incident_id}-resolve", "resolve_log_entry", incident_id, resolved))
    return entries


def scenario() -> h.RawData:
    inc = h.pd_incident
    return h.RawData(
        pagerduty_services=[h.pd_service(*API), h.pd_service(*WEB)],
        pagerduty_incidents=[
            inc("i1", API, "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z"),
            inc("i2", WEB, "2026-03-05T00:00:00Z", "2026-03-05T02:00:00Z"),
            inc("i3", API, "2026-03-08T12:00:00Z", "2026-03-09T12:00:00Z", urgency="low"),
            inc("i4", WEB, "2026-03-10T06:00:00Z", None, status="acknowledged"),
        ],
        pagerduty_log_entries=[
            *lifecycle("i1", "2026-03-02T10:00:00Z", "2026-03-02T10:06:00Z", "2026-03-02T11:00:00Z"),
            *lifecycle("i2", "2026-03-05T00:00:00Z", "2026-03-05T00:10:00Z", "2026-03-05T02:00:00Z"),
            *lifecycle("i3", "2026-03-08T12:00:00Z", "2026-03-08T12:40:00Z", "2026-03-09T12:00:00Z"),
            *lifecycle("i4", "2026-03-10T06:00:00Z", "2026-03-10T06:20:00Z"),
        ],
        config_services=[("svc-api", "payments", 99.0), ("svc-web", "web", 99.5)],
        config_service_prices=PRICES,
    )


def late_data() -> h.RawData:
    """Loaded before run 3: i4 resolved at 11:00 (TTR 18000), i5 on 03-09 that run 1 never saw, and i1 renamed."""
    inc = h.pd_incident
    return h.RawData(
        pagerduty_incidents=[
            inc("i4", WEB, "2026-03-10T06:00:00Z", "2026-03-10T11:00:00Z"),
            inc("i5", API, "2026-03-09T20:00:00Z", "2026-03-09T21:00:00Z"),
            {**inc("i1", API, "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z"), "title": "Checkout latency"},
        ],
        pagerduty_log_entries=[
            h.pd_log_entry("i4-resolve", "resolve_log_entry", "i4", "2026-03-10T11:00:00Z"),
            *lifecycle("i5", "2026-03-09T20:00:00Z", "2026-03-09T20:05:00Z", "2026-03-09T21:00:00Z"),
        ],
        config_services=[("svc-api", "payments", 99.0), ("svc-web", "web", 99.5)],
        config_service_prices=PRICES,
    )


def add_meta(warehouse: Path) -> None:
    """meta.* as the pipeline's load step leaves them (run-2's batches, one failed validation with an e-mail)."""
    from opskpi.load import ensure_meta

    con = duckdb.connect(str(warehouse))
    try:
        ensure_meta(con)
        batches = [
            ("b1", "pagerduty", "incidents", "run-1", 4, 4, 1, "2026-03-10T00:05:00Z"),
            ("b2", "pagerduty", "incidents", "run-2", 7, 3, 2, "2026-03-10T12:05:00Z"),
            ("b3", "pagerduty", "log_entries", "run-2", 10, 10, 3, "2026-03-10T12:06:00Z"),
            ("b4", "jira", "issues", "run-1", 5, 5, 1, "2026-03-10T00:04:00Z"),
        ]
        for batch_id, source, stream, run_id, landed, changed, requests, at in batches:
            con.execute("INSERT INTO meta.batches VALUES (?, ?, ?, ?, 'loaded', ?, ?, 1, ?, ?, ?)",
                        [batch_id, source, stream, run_id, landed, changed, requests, at,
                         json.dumps({"token": "secret-token-value"})])
        failure = [{"expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "key"},
                    "severity": "critical", "unexpected_count": 1, "example": {"email": "leak@example.com"}},
                   {"expectation": "expect_column_values_to_be_unique", "kwargs": {"column": "id"},
                    "severity": "warning", "unexpected_count": 2, "example": None}]
        con.execute("INSERT INTO meta.validation_results VALUES ('q1', 'jira', 'issues', false, now(), ?, '{}')",
                    [json.dumps(failure)])
        con.execute("INSERT INTO meta.validation_results VALUES ('b2', 'pagerduty', 'incidents', true, now(), "
                    "'[]', '{}')")
        con.execute("INSERT INTO meta.validation_results VALUES ('old', 'pagerduty', 'incidents', false, "
                    "now() - interval 3 days, '[]', '{}')")
        con.execute("INSERT INTO meta.watermarks VALUES ('pagerduty', 'incidents', '', '2026-03-10T06:00:00+00:00', "
                    "'b2', now()), ('jira', 'issues', '', '2026-03-09T23:00:00+00:00', 'b4', now()), "
                    "('jira', 'issues', 'p2', '2026-03-08T00:00:00+00:00', 'b4', now())")
        # PagerDuty teams on an account without the feature (402), in run-2 (and an older run, not this one's).
        for run_id, status, code in (("run-2", "not_enabled", 402), ("run-1", "not_enabled", 403),
                                     ("run-2", "ok", None)):
            con.execute("INSERT INTO meta.stream_coverage VALUES ('pagerduty', ?, '', ?, ?, "
                        "'Payment Required secret-token-value', 0, NULL, NULL, ?, 'b9', now())",
                        ["teams" if status == "not_enabled" else "incidents", status, code, run_id])
    finally:
        con.close()


def snapshot(wh: Path, snapshot_date: str | None = None) -> dict[tuple, dict[str, Any]]:
    sql = "select * from marts.kpi_daily_snapshot"
    rows = h.query(wh, sql + (" where snapshot_date = ?" if snapshot_date else ""),
                   [snapshot_date] if snapshot_date else [])
    return {(r["snapshot_date"].isoformat(), r["kpi"], r["scope_type"], r["scope_id"], r["window"]): r for r in rows}


def row_hashes(wh: Path, where: str) -> dict[tuple, str]:
    """md5 of every column of each row (computed_at and run_id included), keyed by the row's key."""
    rows = h.query(wh, f"""select snapshot_date, kpi, scope_type, scope_id, "window",
                                  md5(cast(to_json(s) as varchar)) as row_hash
                           from marts.kpi_daily_snapshot as s where {where}""")
    return {(r["snapshot_date"], r["kpi"], r["scope_type"], r["scope_id"], r["window"]): r["row_hash"] for r in rows}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Four builds of one warehouse; copies of the warehouse after runs 1, 2 and 3 for the assertions."""
    work = tmp_path_factory.mktemp("dbt_kpi_snapshot")
    wh = work / "warehouse.duckdb"
    h.create_warehouse(wh, scenario())
    h.check_dbt_build(wh, RUN1, work)
    after1 = work / "after1.duckdb"
    shutil.copy(wh, after1)
    add_meta(wh)
    h.check_dbt_build(wh, RUN2, work)
    after2 = work / "after2.duckdb"
    shutil.copy(wh, after2)
    # loaded after everything before it (a later _loaded_at than the first load's), as a real load is: the
    # incremental fct_incidents then sees the reloaded records (i1's new title)
    h.load_raw(wh, late_data(), loaded_at=datetime(2026, 11, 1, 12, 30, tzinfo=UTC), batch_id="late")
    h.check_dbt_build(wh, RUN3, work)
    after3 = work / "after3.duckdb"
    shutil.copy(wh, after3)
    h.check_dbt_build(wh, RUN4, work, ["--full-refresh"])
    return {"after1": after1, "after2": after2, "after3": after3, "after4": wh}


@pytest.fixture(scope="module")
def s2(runs) -> dict[tuple, dict[str, Any]]:
    return snapshot(runs["after2"], "2026-03-10")


def value(rows, kpi: str, scope: tuple[str, str], window: str, day: str = "2026-03-10") -> tuple[Any, Any]:
    row = rows[(day, kpi, *scope, window)]
    return row["value"], row["sample_size"]


ORG = ("org", "org")
S_API = ("service", "svc-api")
S_WEB = ("service", "svc-web")
T_PAY = ("team", "payments")
T_WEB = ("team", "web")


def test_availability_by_hand(s2):
    # svc-api: 3600 s of downtime on 03-02 only; svc-web: 7200 s on 03-05, and 6 h on 03-10 (open i4 clipped at
    # as_of 12:00; the day is still 86400 s long). Data from 03-02: the 30d window has 9 days.
    assert value(s2, "availability", S_API, "1d") == (100.0, 1)
    assert value(s2, "availability", S_API, "7d") == (100.0, 7)
    v, n = value(s2, "availability", S_API, "30d")
    assert (v, n) == (pytest.approx(100 * (1 - 3600 / (9 * DAY)), **APPROX), 9)  # 99.537...
    assert value(s2, "availability", S_WEB, "1d") == (75.0, 1)
    v, n = value(s2, "availability", S_WEB, "7d")  # 03-04..03-10: 7200 + 21600
    assert (v, n) == (pytest.approx(100 * (1 - 28800 / (7 * DAY)), **APPROX), 7)  # 95.238...
    v, n = value(s2, "availability", S_WEB, "30d")
    assert (v, n) == (pytest.approx(100 * (1 - 28800 / (9 * DAY)), **APPROX), 9)  # 96.296...
    # teams have one service each; org is the unweighted mean of the two services, sample = service-days
    assert value(s2, "availability", T_WEB, "7d")[0] == pytest.approx(100 * (1 - 28800 / (7 * DAY)), **APPROX)
    assert value(s2, "availability", ORG, "1d") == (87.5, 2)
    v, n = value(s2, "availability", ORG, "30d")
    assert (v, n) == (pytest.approx((100 * (1 - 3600 / (9 * DAY)) + 100 * (1 - 28800 / (9 * DAY))) / 2, **APPROX), 18)


def test_error_budget_and_slo_by_hand(s2):
    # budget over the 9 days: svc-api (1 - 0.99) x 777600 = 7776 s, 3600 used -> 53.70 %; svc-web 0.005 x 777600
    # = 3888 s, 28800 used -> -640.74 % (overspent)
    v, n = value(s2, "error_budget_remaining", S_API, "30d")
    assert (v, n) == (pytest.approx(100 * (1 - 3600 / 7776), **APPROX), 9)
    assert value(s2, "error_budget_remaining", S_WEB, "30d")[0] == pytest.approx(100 * (1 - 28800 / 3888), **APPROX)
    assert value(s2, "availability_slo_target", S_WEB, "30d") == (99.5, None)
    assert ("2026-03-10", "error_budget_remaining", "service", "svc-api", "7d") not in s2


def test_mtta_mttr_by_hand(s2):
    # MTTA over incidents created in the window: 1d {i4: 1200}; 7d {i2 600, i3 2400, i4 1200};
    # 30d {i1 360, i2 600, i3 2400, i4 1200} -> mean 1140, median (600 + 1200) / 2 = 900
    assert value(s2, "mtta_mean", ORG, "1d") == (1200.0, 1)
    assert value(s2, "mtta_mean", ORG, "7d") == (pytest.approx(1400.0, **APPROX), 3)
    assert value(s2, "mtta_p50", ORG, "7d") == (1200.0, 3)
    assert value(s2, "mtta_mean", ORG, "30d") == (pytest.approx(1140.0, **APPROX), 4)
    assert value(s2, "mtta_p50", ORG, "30d") == (900.0, 4)
    # team payments = svc-api: nothing created on 03-10 -> NULL with sample 0 (never 0)
    assert value(s2, "mtta_mean", T_PAY, "1d") == (None, 0)
    assert value(s2, "mtta_p50", T_PAY, "30d") == (pytest.approx(1380.0, **APPROX), 2)
    # MTTR over incidents resolved in the window: 1d none; 7d {i2 7200, i3 86400}; 30d + i1 3600
    assert value(s2, "mttr_mean", ORG, "1d") == (None, 0)
    assert value(s2, "mttr_mean", ORG, "7d") == (pytest.approx(46800.0, **APPROX), 2)
    assert value(s2, "mttr_mean", ORG, "30d") == (pytest.approx(32400.0, **APPROX), 3)
    assert value(s2, "mttr_p50", ORG, "30d") == (7200.0, 3)
    assert value(s2, "mttr_p50", S_WEB, "30d") == (7200.0, 1)
    # open at the end of the day (by as_of on run_date): i4
    assert value(s2, "incidents_open", ORG, "1d") == (1.0, 1)
    assert value(s2, "incidents_open", S_API, "1d") == (0.0, 0)
    assert ("2026-03-10", "incidents_open", "org", "org", "7d") not in s2


def test_one_row_per_kpi_scope_window_and_units(s2):
    scopes = {ORG, S_API, S_WEB, T_PAY, T_WEB}
    kpis = {(k[1], k[2], k[3], k[4]) for k in s2}
    for kpi in ("mtta_mean", "mtta_p50", "mttr_mean", "mttr_p50", "availability"):
        assert {(k[1], k[2]) for k in kpis if k[0] == kpi} == scopes, kpi
        assert {k[3] for k in kpis if k[0] == kpi} == {"1d", "7d", "30d"}
    assert {r["unit"] for r in s2.values() if r["kpi"].startswith("mtt")} == {"s"}
    # + detection: mttd_mean, mttd_p50, detection_coverage, monitoring_detection_share x 5 scopes x 3 windows (no
    # repository: no change_detection_p50); + maturity_level (window 1d only) for org, payments and web
    assert len(s2) == 5 * 3 * 5 + 5 + 2 * 2 + SECURITY_AND_COST_ROWS + 4 * 5 * 3 + 3
    assert {k[2:] for k in s2 if k[1] == "maturity_level"} == {("org", "org", "1d"), ("team", "payments", "1d"),
                                                              ("team", "web", "1d")}
    assert {r["run_id"] for r in s2.values()} == {"run-2"}


def test_dora_and_jira_areas_stay_empty_without_repos_or_projects(s2):
    # no GitHub repository and no Jira project in this warehouse: the marts still have an (empty) org row per
    # day, but the snapshot holds no DORA or Jira flow rows, so the report keeps those areas hidden
    dora_jira = ("deployment_frequency", "lead_time_p50", "change_failure_rate", "time_to_restore_p50",
                 "cycle_time_p50", "throughput", "wip")
    assert not [k for k in s2 if k[1] in dora_jira or k[1].startswith("dora_tier_")]


def test_window_1d_equals_the_daily_marts(runs):
    """An independent computation: the snapshot's 1d values are the marts' figures for every date."""
    wh = runs["after2"]
    snap = snapshot(wh)
    resp = h.query(wh, "select * from marts.mart_incident_response_daily")
    assert resp
    for r in resp:
        day = r["day"].isoformat()
        for kpi, col, n in (("mtta_mean", "mtta_s_mean", "mtta_sample_size"), ("mtta_p50", "mtta_s_p50", None),
                            ("mttr_mean", "mttr_s_mean", "mttr_sample_size"), ("mttr_p50", "mttr_s_p50", None),
                            ("incidents_open", "open_at_end_of_day", None)):
            got = snap[(day, kpi, r["scope_type"], r["scope_id"], "1d")]
            assert got["value"] == (None if r[col] is None else pytest.approx(r[col], **APPROX)), (kpi, r)
            if n:
                assert got["sample_size"] == r[n]
    for r in h.query(wh, "select * from marts.mart_availability_daily"):
        got = snap[(r["day"].isoformat(), "availability", "service", r["service_id"], "1d")]
        assert got["value"] == pytest.approx(r["availability_pct"], **APPROX)
        budget = snap[(r["day"].isoformat(), "error_budget_remaining", "service", r["service_id"], "30d")]
        assert budget["value"] == pytest.approx(r["error_budget_remaining_pct"], **APPROX)
    for r in h.query(wh, "select * from marts.mart_availability_rollup_daily"):
        got = snap[(r["day"].isoformat(), "availability", r["scope_type"], r["scope_id"], "1d")]
        assert got["value"] == pytest.approx(r["availability_pct"], **APPROX)


def test_first_build_backfills_the_data_window(runs):
    rows = h.query(runs["after1"], """select snapshot_date, run_id, count(*) as n from marts.kpi_daily_snapshot
                                      group by all order by 1""")
    assert [r["snapshot_date"] for r in rows] == [date(2026, 3, d) for d in range(2, 10)]
    assert {r["run_id"] for r in rows if r["snapshot_date"] < date(2026, 3, 9)} == {"backfill:run-1"}
    assert [r["run_id"] for r in rows if r["snapshot_date"] == date(2026, 3, 9)] == ["run-1"]
    # open at the end of 03-08: i3 (created 12:00, resolved 03-09 12:00)
    snap = snapshot(runs["after1"], "2026-03-08")
    assert value(snap, "incidents_open", ORG, "1d", "2026-03-08") == (1.0, 1)


def test_rerun_replaces_only_its_date_and_history_is_never_rewritten(runs):
    before = row_hashes(runs["after1"], "true")
    assert before
    # run 2 added 03-10 and left every row of 03-02..03-09 byte for byte as run 1 wrote it
    assert row_hashes(runs["after2"], "snapshot_date < date '2026-03-10'") == before
    # run 3 (same date, after late data) replaced 03-10 ...
    s3 = snapshot(runs["after3"], "2026-03-10")
    assert {r["run_id"] for r in s3.values()} == {"run-3"}
    assert value(s3, "incidents_open", ORG, "1d") == (0.0, 0)  # i4 resolved at 11:00
    assert value(s3, "mttr_mean", ORG, "1d") == (18000.0, 1)
    assert set(s3) == set(snapshot(runs["after2"], "2026-03-10"))
    # ... while 03-09 still shows what run 1 computed, although i5 (03-09) would change it now
    assert row_hashes(runs["after3"], "snapshot_date < date '2026-03-10'") == before
    assert value(snapshot(runs["after3"], "2026-03-09"), "mtta_mean", ORG, "1d", "2026-03-09") == (None, 0)
    # `dbt build --full-refresh` does not drop the history either
    assert row_hashes(runs["after4"], "snapshot_date < date '2026-03-10'") == before
    assert {r["run_id"] for r in snapshot(runs["after4"], "2026-03-10").values()} == {"run-4"}


def test_catalog_and_scope_names_are_published_marts(runs):
    catalog = {r["kpi"]: r for r in h.query(runs["after2"], "select * from marts.kpi_catalog")}
    for kpi in ("availability", "deployment_frequency", "lead_time_p50", "change_failure_rate",
                "time_to_restore_p50", "dora_tier_lead_time", "alerts_open_critical", "sla_compliance",
                "time_to_remediate_p50", "cycle_time_p50", "throughput"):
        assert kpi in catalog
    names = {r["scope_id"]: r for r in h.query(runs["after2"], "select * from marts.dim_kpi_scopes")}
    assert names["svc-api"]["scope_name"] == "Checkout API"
    assert names["svc-web"]["team"] == "web"


def test_pipeline_health_from_meta(runs):
    # run 1 had no meta tables (a bare dbt build): empty, not an error
    assert h.query(runs["after1"], "select * from marts.pipeline_health_daily") == []
    rows = {(r["source"], r["stream"]): r
            for r in h.query(runs["after2"], "select * from marts.pipeline_health_daily")}
    assert set(rows) == {("pagerduty", "incidents"), ("pagerduty", "log_entries"), ("jira", "issues"),
                         ("pagerduty", "teams")}
    # Said once, for this run only, as a status code (the API's message stays in meta).
    assert rows[("pagerduty", "teams")]["not_enabled"] == "not enabled (HTTP 402)"
    assert [k for k, r in rows.items() if r["not_enabled"]] == [("pagerduty", "teams")]
    pd = rows[("pagerduty", "incidents")]
    assert pd["snapshot_date"] == date(2026, 3, 10)
    assert pd["last_loaded_at"] == datetime(2026, 3, 10, 12, 5, tzinfo=UTC)
    assert (pd["batches_loaded"], pd["rows_landed"], pd["rows_changed"]) == (1, 7, 3)  # run-2's batch only
    assert (pd["validations_24h"], pd["failed_validations_24h"]) == (1, 0)  # the 3-day-old failure is out
    assert pd["freshness_s"] == 6 * 3600  # newest record 06:00, as_of 12:00
    jira = rows[("jira", "issues")]
    assert (jira["batches_loaded"], jira["rows_landed"]) == (0, 0)
    assert (jira["validations_24h"], jira["failed_validations_24h"], jira["failed_expectations_24h"]) == (1, 1, 2)
    assert jira["failed_checks"] == ("expect_column_values_to_be_unique(id), "
                                     "expect_column_values_to_not_be_null(key)")
    assert jira["newest_record_at"] == datetime(2026, 3, 9, 23, tzinfo=UTC)
    dump = json.dumps(h.query(runs["after2"], "select * from marts.pipeline_health_daily"), default=str)
    assert "leak@example.com" not in dump and "secret-token-value" not in dump


# ---------------------------------------------------------------------------------------------------------------
# DORA and Jira flow areas: a second warehouse, one build (run_date 2026-03-10, as_of 03-11 00:00Z, UTC).
#
# Repos: acme/api (team platform, service PSVC1), acme/web (team growth, PSVC2), acme/docs (team docs, no
# activity). PSVC9 maps to no repo; its incident on 03-01 only starts the reporting calendar (snapshot dates
# 03-01..03-10).
#   deployments (success time)      failed?
#   A1 api 03-04 10:00              no
#   A2 api 03-08 10:00              I1 PSVC1 03-08 11:00 -> 13:00: restored after 10800 s
#   W1 web 03-09 12:00              I3 PSVC2 03-09 13:00 -> 20:00: restored after 28800 s
#   A3 api 03-10 09:00              no (I2 is after the next deployment A4)
#   W2 web 03-10 12:00              web#103 `Revert ...` merged 13:00: failed, no restore time
#   A4 api 03-10 15:00              I2 PSVC1 03-10 16:00 -> 17:00: restored after 7200 s
#   pull requests (first commit -> deployment = lead time): api#1 03-03 12:00 -> A1 79200; api#2 03-07 10:00 ->
#   A2 86400; api#3 03-08 04:00 -> A2 21600; api#4 03-09 07:00 -> A3 93600; api#5 03-10 12:00 -> A4 10800;
#   web#101 03-09 06:00 -> W1 21600; web#102 03-05 12:00 -> W2 432000; web#103 merged 03-10 13:00: pending.
#
# Jira: OPS -> team platform, WEB -> team growth (first in progress -> last done = cycle time).
#   OPS-1 Story  03-02 10:00 -> 03-04 10:00                               172800
#   OPS-2 Bug    03-05 00:00 -> 03-10 06:00                               453600
#   OPS-3 Task   03-09 00:00 -> done 03-09 12:00, reopened 18:00, done 03-10 08:00 (two entries into done)
#                                                                         115200
#   WEB-1 Story  03-06 00:00 -> 03-07 12:00                               129600
#   WEB-3 Task   02-25 00:00 -> 03-02 00:00                               432000
#   WEB-2 Bug in progress since 03-08, OPS-5 Task in progress since 03-04, OPS-4 Bug created 03-09 (to do)
# ---------------------------------------------------------------------------------------------------------------

try:  # tests/integration as a package
    from .test_dbt_dora import Github, commit, merged_pull
    from .test_dbt_jira_flow import DONE, IN_PROGRESS, TODO, Issue, history, load_jira, resolution_item, status_item
except ImportError:  # rootdir-relative
    from test_dbt_dora import Github, commit, merged_pull  # type: ignore[no-redef]
    from test_dbt_jira_flow import (  # type: ignore[no-redef]
        DONE,
        IN_PROGRESS,
        TODO,
        Issue,
        history,
        load_jira,
        resolution_item,
        status_item,
    )

# The flow build configures no security-incident rule: the area is off (contract §2 case 5).
FLOW_RUN = {**BASE_VARS, "run_date": "2026-03-10", "as_of": "2026-03-11T00:00:00Z", "run_id": "flow-run",
            "security_incident_service_ids": [], "security_incident_title_pattern": None}
HOUR = 3_600
REPO_API, REPO_WEB, REPO_DOCS = ("repo", "acme/api"), ("repo", "acme/web"), ("repo", "acme/docs")
T_PLATFORM, T_GROWTH, T_DOCS = ("team", "platform"), ("team", "growth"), ("team", "docs")
P_OPS, P_WEB = ("project", "OPS"), ("project", "WEB")


def _jira_ts(day: str, time: str = "00:00") -> str:
    return f"2026-{day}T{time}:00.000+0000"


def flow_scenario() -> tuple[h.RawData, Github, list[Any]]:
    svc1, svc2, svc9 = ("PSVC1", "api-gateway"), ("PSVC2", "web-frontend"), ("PSVC9", "batch")
    inc = h.pd_incident
    raw = h.RawData(
        pagerduty_services=[h.pd_service(*svc1), h.pd_service(*svc2), h.pd_service(*svc9)],
        pagerduty_incidents=[
            inc("I0", svc9, "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", number=1),
            inc("I1", svc1, "2026-03-08T11:00:00Z", "2026-03-08T13:00:00Z", number=2),
            inc("I3", svc2, "2026-03-09T13:00:00Z", "2026-03-09T20:00:00Z", number=3),
            inc("I2", svc1, "2026-03-10T16:00:00Z", "2026-03-10T17:00:00Z", number=4),
        ],
        config_services=[("PSVC1", "platform", None), ("PSVC2", "growth", None), ("PSVC9", "platform", None)],
    )
    gh = Github()
    gh.repos = [("acme/api", "platform"), ("acme/web", "growth"), ("acme/docs", "docs")]
    gh.repo_services = [("acme/api", "PSVC1"), ("acme/web", "PSVC2")]
    for repo, dep_id, at in [("acme/api", 1, "03-04T10"), ("acme/api", 2, "03-08T10"), ("acme/web", 11, "03-09T12"),
                             ("acme/api", 3, "03-10T09"), ("acme/web", 12, "03-10T12"), ("acme/api", 4, "03-10T15")]:
        gh.deploy(repo, dep_id, "production", f"2026-{at}:00:00Z", ("success", f"2026-{at}:00:00Z"))
    pulls = [  # repo, number, first commit, opened, merged, title
        ("acme/api", 1, "03-03T12:00", "03-03T13:00", "03-04T09:00", None),
        ("acme/api", 2, "03-07T10:00", "03-07T11:00", "03-08T09:00", None),
        ("acme/api", 3, "03-08T04:00", "03-08T05:00", "03-08T09:30", None),
        ("acme/api", 4, "03-09T07:00", "03-09T08:00", "03-10T08:00", None),
        ("acme/api", 5, "03-10T12:00", "03-10T12:30", "03-10T14:00", None),
        ("acme/web", 101, "03-09T06:00", "03-09T07:00", "03-09T11:00", None),
        ("acme/web", 102, "03-05T12:00", "03-06T12:00", "03-10T11:00", None),
        ("acme/web", 103, "03-10T12:30", "03-10T12:40", "03-10T13:00", 'Revert "PR 102"'),
    ]
    for repo, number, first, opened, merged, title in pulls:
        record = merged_pull(number, f"2026-{opened}:00Z", f"2026-{merged}:00Z", title=title)
        raw.github_pulls.append((repo, record))
        gh.commits.append((repo, number, record["updated_at"], commit(f"c{number}", f"2026-{first}:00Z")))

    done = resolution_item(True)
    issues = [
        Issue("3001", "OPS-1", _jira_ts("03-01"), [
            history(1, _jira_ts("03-02", "10:00"), status_item(TODO, IN_PROGRESS)),
            history(2, _jira_ts("03-04", "10:00"), status_item(IN_PROGRESS, DONE), done),
        ], status=DONE, resolutiondate=_jira_ts("03-04", "10:00"), issuetype="Story"),
        Issue("3002", "OPS-2", _jira_ts("03-02"), [
            history(3, _jira_ts("03-05"), status_item(TODO, IN_PROGRESS)),
            history(4, _jira_ts("03-10", "06:00"), status_item(IN_PROGRESS, DONE), done),
        ], status=DONE, resolutiondate=_jira_ts("03-10", "06:00"), issuetype="Bug"),
        Issue("3003", "OPS-3", _jira_ts("03-03"), [
            history(5, _jira_ts("03-09"), status_item(TODO, IN_PROGRESS)),
            history(6, _jira_ts("03-09", "12:00"), status_item(IN_PROGRESS, DONE), done),
            history(7, _jira_ts("03-09", "18:00"), status_item(DONE, IN_PROGRESS), resolution_item(False)),
            history(8, _jira_ts("03-10", "08:00"), status_item(IN_PROGRESS, DONE), done),
        ], status=DONE, resolutiondate=_jira_ts("03-10", "08:00")),
        Issue("3004", "OPS-4", _jira_ts("03-09"), [], status=TODO, issuetype="Bug"),
        Issue("3005", "OPS-5", _jira_ts("03-04"), [
            history(9, _jira_ts("03-04", "12:00"), status_item(TODO, IN_PROGRESS)),
        ], status=IN_PROGRESS),
        Issue("4001", "WEB-1", _jira_ts("03-05"), [
            history(10, _jira_ts("03-06"), status_item(TODO, IN_PROGRESS)),
            history(11, _jira_ts("03-07", "12:00"), status_item(IN_PROGRESS, DONE), done),
        ], status=DONE, resolutiondate=_jira_ts("03-07", "12:00"), issuetype="Story"),
        Issue("4002", "WEB-2", _jira_ts("03-06"), [
            history(12, _jira_ts("03-08"), status_item(TODO, IN_PROGRESS)),
        ], status=IN_PROGRESS, issuetype="Bug"),
        Issue("4003", "WEB-3", _jira_ts("02-20"), [
            history(13, _jira_ts("02-25"), status_item(TODO, IN_PROGRESS)),
            history(14, _jira_ts("03-02"), status_item(IN_PROGRESS, DONE), done),
        ], status=DONE, resolutiondate=_jira_ts("03-02")),
    ]
    return raw, gh, issues


@pytest.fixture(scope="module")
def flow_wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("dbt_kpi_snapshot_flow")
    wh = work / "warehouse.duckdb"
    raw, gh, issues = flow_scenario()
    h.create_warehouse(wh, raw)
    gh.write(wh)
    load_jira(wh, issues, reconciliations={}, project_teams={"OPS": "platform", "WEB": "growth"})
    h.check_dbt_build(wh, FLOW_RUN, work)
    return wh


@pytest.fixture(scope="module")
def sf(flow_wh) -> dict[tuple, dict[str, Any]]:
    return snapshot(flow_wh, "2026-03-10")


def approx(v: float | None) -> Any:
    return None if v is None else pytest.approx(v, **APPROX)


def test_dora_deployment_frequency_and_change_failure_rate_by_hand(sf):
    # 03-10: A3, W2, A4 (W2, A4 failed); 03-04..03-10: A1, A2, W1, A3, W2, A4 (A2, W1, W2, A4 failed)
    assert value(sf, "deployment_frequency", ORG, "1d") == (3.0, 3)
    assert value(sf, "deployment_frequency", ORG, "7d") == (approx(6 / 7), 6)
    assert value(sf, "deployment_frequency", ORG, "30d") == (approx(6 / 30), 6)  # per day over all 30 days
    assert value(sf, "deployment_frequency", REPO_API, "1d") == (2.0, 2)
    assert value(sf, "deployment_frequency", REPO_API, "7d") == (approx(4 / 7), 4)
    assert value(sf, "deployment_frequency", T_GROWTH, "7d") == (approx(2 / 7), 2)
    assert value(sf, "deployment_frequency", T_DOCS, "7d") == (0.0, 0)
    assert value(sf, "change_failure_rate", ORG, "1d") == (approx(200 / 3), 3)
    assert value(sf, "change_failure_rate", ORG, "7d") == (approx(400 / 6), 6)
    assert value(sf, "change_failure_rate", REPO_API, "7d") == (50.0, 4)
    assert value(sf, "change_failure_rate", T_GROWTH, "1d") == (100.0, 1)
    assert value(sf, "change_failure_rate", REPO_DOCS, "7d") == (None, 0)  # no deployments: NULL, never 0
    assert {r["unit"] for k, r in sf.items() if k[1] == "deployment_frequency"} == {"per_day"}
    assert {r["unit"] for k, r in sf.items() if k[1] == "change_failure_rate"} == {"pct"}


def test_dora_lead_time_is_pooled_over_the_window_not_averaged(sf):
    # 1d: PRs deployed 03-10: api#4 93600, api#5 10800, web#102 432000 -> median 93600
    assert value(sf, "lead_time_p50", ORG, "1d") == (93600.0, 3)
    # 7d: 10800, 21600, 21600, 79200, 86400, 93600, 432000 -> median 79200. The daily medians (03-04 79200,
    # 03-08 54000, 03-09 21600, 03-10 93600) would average to 62100: not what the snapshot holds.
    assert value(sf, "lead_time_p50", ORG, "7d") == (79200.0, 7)
    assert value(sf, "lead_time_p50", REPO_API, "7d") == (79200.0, 5)  # 10800, 21600, 79200, 86400, 93600
    assert value(sf, "lead_time_p50", T_PLATFORM, "1d") == (52200.0, 2)  # (10800 + 93600) / 2
    assert value(sf, "lead_time_p50", T_GROWTH, "7d") == (226800.0, 2)  # (21600 + 432000) / 2
    assert value(sf, "lead_time_p50", REPO_WEB, "1d") == (432000.0, 1)  # web#103 is pending: not in the sample
    assert value(sf, "lead_time_p50", T_DOCS, "7d") == (None, 0)
    assert {r["unit"] for k, r in sf.items() if k[1] == "lead_time_p50"} == {"s"}


def test_dora_time_to_restore_by_hand(sf):
    # restored failures: A2 10800 (03-08), W1 28800 (03-09), A4 7200 (03-10); W2 failed by a revert: no time
    assert value(sf, "time_to_restore_p50", ORG, "1d") == (7200.0, 1)
    assert value(sf, "time_to_restore_p50", ORG, "7d") == (10800.0, 3)  # mean of the daily medians: 15600
    assert value(sf, "time_to_restore_p50", T_PLATFORM, "7d") == (9000.0, 2)
    assert value(sf, "time_to_restore_p50", T_GROWTH, "1d") == (None, 0)
    assert value(sf, "time_to_restore_p50", REPO_WEB, "7d") == (28800.0, 1)


def test_dora_tiers_as_ranks_over_30_days(sf):
    # org: 6/30 = 0.2 per day (>= 1/7: High 2); lead time 79200 < 1 day (Elite 1); CFR 66.7 % (Low 4);
    # restore 10800 < 1 day (High 2). platform: 4/30 < 1/7 (Medium 3); median(10800, 21600, 79200, 86400, 93600)
    # = 79200 (Elite); 50 % (Low); 9000 (High). growth: 2/30 (Medium); 226800 (High); 100 % (Low); 28800 (High).
    # docs: 0 deployments (Low), nothing else (NULL, sample 0).
    expected = {
        ORG: {"deployment_frequency": (2.0, 6), "lead_time": (1.0, 7), "change_failure_rate": (4.0, 6),
              "time_to_restore": (2.0, 3)},
        T_PLATFORM: {"deployment_frequency": (3.0, 4), "lead_time": (1.0, 5), "change_failure_rate": (4.0, 4),
                     "time_to_restore": (2.0, 2)},
        T_GROWTH: {"deployment_frequency": (3.0, 2), "lead_time": (2.0, 2), "change_failure_rate": (4.0, 2),
                   "time_to_restore": (2.0, 1)},
        T_DOCS: {"deployment_frequency": (4.0, 0), "lead_time": (None, 0), "change_failure_rate": (None, 0),
                 "time_to_restore": (None, 0)},
    }
    for scope, metrics in expected.items():
        for metric, want in metrics.items():
            assert value(sf, f"dora_tier_{metric}", scope, "30d") == want, (scope, metric)
    tier_keys = {k for k in sf if k[1].startswith("dora_tier_")}
    assert {(k[2], k[3]) for k in tier_keys} == set(expected)  # team and org only, no repo
    assert {k[4] for k in tier_keys} == {"30d"}
    assert {sf[k]["unit"] for k in tier_keys} == {"tier"}


def test_dora_scopes_and_windows_are_dense(sf):
    scopes = {ORG, T_PLATFORM, T_GROWTH, T_DOCS, REPO_API, REPO_WEB, REPO_DOCS}
    for kpi in ("deployment_frequency", "change_failure_rate", "lead_time_p50", "time_to_restore_p50"):
        got = {(k[2], k[3], k[4]) for k in sf if k[1] == kpi}
        assert got == {(*s, w) for s in scopes for w in ("1d", "7d", "30d")}, kpi


def test_jira_flow_by_hand(sf):
    # entries into done: 03-02 WEB-3; 03-04 OPS-1; 03-07 WEB-1; 03-09 OPS-3; 03-10 OPS-2, OPS-3 (again)
    assert value(sf, "throughput", ORG, "1d") == (2.0, 2)
    assert value(sf, "throughput", ORG, "7d") == (5.0, 5)
    assert value(sf, "throughput", ORG, "30d") == (6.0, 6)
    assert value(sf, "throughput", T_PLATFORM, "7d") == (4.0, 4)
    assert value(sf, "throughput", P_WEB, "7d") == (1.0, 1)
    assert value(sf, "throughput", P_WEB, "1d") == (0.0, 0)
    # cycle time over issues whose last entry into done is in the window: 1d OPS-2 453600, OPS-3 115200;
    # 7d + OPS-1 172800, WEB-1 129600 -> median (129600 + 172800) / 2 = 151200 (daily medians would average
    # to 195600); OPS-3's first close on 03-09 is not its last, so 03-09 has no sample
    assert value(sf, "cycle_time_p50", ORG, "1d") == (284400.0, 2)
    assert value(sf, "cycle_time_p50", ORG, "7d") == (151200.0, 4)
    assert value(sf, "cycle_time_p50", ORG, "30d") == (172800.0, 5)
    assert value(sf, "cycle_time_p50", P_OPS, "7d") == (172800.0, 3)
    assert value(sf, "cycle_time_p50", T_GROWTH, "30d") == (280800.0, 2)  # (129600 + 432000) / 2
    assert value(sf, "cycle_time_p50", P_WEB, "1d") == (None, 0)
    # in progress at the end of 03-10: WEB-2, OPS-5 (the to-do bug OPS-4 is not WIP)
    assert value(sf, "wip", ORG, "1d") == (2.0, 2)
    assert value(sf, "wip", T_GROWTH, "1d") == (1.0, 1)
    assert value(sf, "wip", P_OPS, "1d") == (1.0, 1)
    assert {k[4] for k in sf if k[1] == "wip"} == {"1d"}
    units = {k[1]: sf[k]["unit"] for k in sf if k[1] in ("throughput", "cycle_time_p50", "wip")}
    assert units == {"throughput": "count", "cycle_time_p50": "s", "wip": "count"}


def test_no_security_incident_rule_no_security_incident_figures(flow_wh):
    """Contract §2 case 5: with every security_incidents rule empty the area is off: the snapshot has no
    security-incident rows at all (absent, not 0), while the other areas of the same build have theirs."""
    kpis = {r["kpi"] for r in h.query(flow_wh, "select distinct kpi from marts.kpi_daily_snapshot")}
    assert {"deployment_frequency", "throughput"} & kpis
    assert {"security_incidents", "security_incidents_open", "security_mttr_mean", "security_mttr_p50"} & kpis == set()


def test_jira_flow_on_a_backfilled_date(flow_wh):
    s = snapshot(flow_wh, "2026-03-09")
    # 03-09: OPS-3 entered done (throughput 1) but closed again on 03-10: no cycle time sample that day;
    # in progress at its end: OPS-2, OPS-3 (reopened 18:00), OPS-5, WEB-2
    assert value(s, "throughput", ORG, "1d", "2026-03-09") == (1.0, 1)
    assert value(s, "cycle_time_p50", ORG, "1d", "2026-03-09") == (None, 0)
    assert value(s, "wip", ORG, "1d", "2026-03-09") == (4.0, 4)
    assert {r["run_id"] for r in s.values()} == {"backfill:flow-run"}


def test_dora_and_jira_window_1d_equals_the_daily_marts(flow_wh):
    """An independent computation: for every date, the 1d values are the daily marts' figures."""
    snap = snapshot(flow_wh)
    checked = 0
    for r in h.query(flow_wh, "select * from marts.mart_dora_daily where day >= date '2026-03-01'"):
        key = (r["day"].isoformat(), r["scope_type"], r["scope_id"], "1d")
        for kpi, col, n in (("deployment_frequency", "deployments", "deployments"),
                            ("change_failure_rate", "change_failure_rate_pct", "deployments"),
                            ("deployment_rework_rate", "deployment_rework_rate_pct", "deployments"),
                            ("lead_time_p50", "lead_time_s_p50", "lead_time_sample_size"),
                            ("time_to_restore_p50", "time_to_restore_s_p50", None)):
            got = snap[(key[0], kpi, *key[1:])]
            assert got["value"] == approx(r[col]), (kpi, r)
            if n:
                assert got["sample_size"] == r[n], (kpi, r)
            checked += 1
    for r in h.query(flow_wh, "select * from marts.mart_jira_flow_daily where day >= date '2026-03-01'"):
        key = (r["day"].isoformat(), r["scope_type"], r["scope_id"], "1d")
        for kpi, col, n in (("throughput", "throughput", "throughput"), ("wip", "wip_end_of_day", "wip_end_of_day"),
                            ("cycle_time_p50", "cycle_time_s_p50", "cycle_time_sample_size")):
            got = snap[(key[0], kpi, *key[1:])]
            assert (got["value"], got["sample_size"]) == (approx(r[col]), r[n]), (kpi, r)
            checked += 1
    assert checked > 100


def test_a_window_reaching_before_the_data_is_provisional(runs):
    """Issue 18: the data start on 03-02, so a 7-day window is complete from 03-08 (03-02..03-08) and a 30-day one
    never within these ten days; a 1-day window always is. The mart's 30-day error budget says the same."""
    rows = h.query(runs["after2"], """
        select snapshot_date, "window", bool_and(sample_complete) as all_complete,
               bool_or(sample_complete) as any_complete
        from marts.kpi_daily_snapshot where scope_type = 'org' and kpi = 'availability' group by all""")
    got = {(r["snapshot_date"], r["window"]): (r["all_complete"], r["any_complete"]) for r in rows}
    for day in (date(2026, 3, d) for d in range(2, 11)):
        assert got[(day, "1d")] == (True, True), day
        assert got[(day, "7d")] == ((True, True) if day >= date(2026, 3, 8) else (False, False)), day
        assert got[(day, "30d")] == (False, False), day
    budget = h.query(runs["after2"], "select count(*) as n, count(*) filter (where sample_complete) as complete "
                                     "from marts.mart_availability_daily")[0]
    assert budget["n"] > 0 and budget["complete"] == 0


def test_each_area_is_provisional_until_its_window_lies_in_its_own_grid(flow_wh):
    """Issue 18, per area: a snapshot row is complete when its window lies inside its own area's grid. The flow
    build's grids start on (no history window in a hand-built warehouse: the first record) availability 03-01 (I0),
    DORA 03-04 (the first deployment and the first merge, api#1), Jira flow 02-20 (WEB-3 created). So on 03-01 ..
    03-10: availability's 7 days are complete from 03-07, DORA's from 03-10, Jira's on every date (02-23 .. 03-01 on
    03-01 lies after 02-20); no 30-day window is; DORA has no row before 03-04 (its windows end before its grid:
    absent, not 0), and every 1-day window inside a grid is complete."""
    grid = {"availability": date(2026, 3, 1), "deployment_frequency": date(2026, 3, 4), "throughput": date(2026, 2, 20)}
    rows = h.query(flow_wh, """
        select kpi, snapshot_date, "window", bool_and(sample_complete) as all_complete,
               bool_or(sample_complete) as any_complete
        from marts.kpi_daily_snapshot where kpi in ('availability', 'deployment_frequency', 'throughput')
        group by all""")
    got = {(r["kpi"], r["snapshot_date"], r["window"]): (r["all_complete"], r["any_complete"]) for r in rows}
    dates = {kpi: sorted({d for k, d, _ in got if k == kpi}) for kpi in grid}
    march = [date(2026, 3, day) for day in range(1, 11)]
    assert dates == {"availability": march, "deployment_frequency": march[3:], "throughput": march}
    complete_from = {("availability", "7d"): date(2026, 3, 7), ("deployment_frequency", "7d"): date(2026, 3, 10),
                     ("throughput", "7d"): date(2026, 3, 1), ("availability", "1d"): date(2026, 3, 1),
                     ("deployment_frequency", "1d"): date(2026, 3, 4), ("throughput", "1d"): date(2026, 3, 1)}
    for (kpi, day, window), complete in got.items():
        start = complete_from.get((kpi, window))
        expected = start is not None and day >= start  # 30d: never (the window would start before every grid)
        assert complete == (expected, expected), (kpi, day, window)


# Security incidents and downtime cost (run 2, 03-10, as_of 12:00). Security incidents: i1 (title; api, 03-02,
# TTR 3600), i2 (web, 03-05, TTR 7200), i4 (web, 03-10 06:00, open). Cost: svc-web at 1/min: i2 120 min on 03-05,
# i4 06:00..as_of 12:00 = 360 min on 03-10; svc-api (i1, 60 min) is unpriced.
# 3 security KPIs x 3 windows x 5 scopes + open (5); 3 cost KPIs (cost, revenue, coverage) x 3 windows x 5 scopes
SECURITY_AND_COST_ROWS = 3 * 3 * 5 + 5 + 3 * 3 * 5


def test_security_incidents_by_hand(s2):
    assert value(s2, "security_incidents", ORG, "30d") == (3.0, 3)
    assert value(s2, "security_incidents", ORG, "7d") == (2.0, 2)  # 03-04..03-10: i2, i4
    assert value(s2, "security_incidents", S_API, "1d") == (0.0, 0)
    assert value(s2, "security_mttr_mean", ORG, "30d") == (5400.0, 2)  # i1 3600, i2 7200
    assert value(s2, "security_mttr_p50", T_WEB, "30d") == (7200.0, 1)
    assert value(s2, "security_mttr_mean", ORG, "1d") == (None, 0)
    assert value(s2, "security_incidents_open", ORG, "1d") == (1.0, 1)  # i4


def test_downtime_cost_by_hand(s2):
    assert value(s2, "downtime_cost", S_WEB, "30d") == (480.0, 1)
    assert value(s2, "downtime_cost", S_WEB, "1d") == (360.0, 1)
    assert value(s2, "downtime_cost", ORG, "30d") == (480.0, 1)  # the sum over priced services only
    assert value(s2, "downtime_cost", S_API, "30d") == (None, 0)  # unpriced: unknown, not 0
    assert value(s2, "revenue_at_risk", ORG, "30d") == (None, 1)  # no revenue configured
    assert {r["unit"] for r in s2.values() if r["kpi"] in ("downtime_cost", "revenue_at_risk")} == {"money"}
    # coverage: priced downtime / all downtime over the window. 30 days: svc-web 7200 + 21600 s priced, svc-api's
    # 3600 s (03-02) not: 28800 / 32400; 7 days (03-04..03-10): svc-web's only; sample = the scope's services
    assert value(s2, "downtime_cost_coverage", ORG, "30d") == (pytest.approx(100 * 28800 / 32400), 2)
    assert value(s2, "downtime_cost_coverage", ORG, "7d") == (100.0, 2)
    assert value(s2, "downtime_cost_coverage", S_API, "30d") == (0.0, 1)  # down, unpriced
    assert value(s2, "downtime_cost_coverage", S_API, "1d") == (None, 1)  # no downtime: no coverage to speak of


def test_renamed_security_incident_leaves_the_next_snapshot_only(runs):
    # contract §2 case 2: i1 matched by its title until late_data renamed it; run 3 recomputes 03-10 without it
    # (and with i4 resolved, which also lowers the cost), while 03-09 keeps what run 1 showed
    s3 = snapshot(runs["after3"], "2026-03-10")
    assert value(s3, "security_incidents", ORG, "30d") == (2.0, 2)
    assert value(s3, "security_incidents_open", ORG, "1d") == (0.0, 0)
    assert value(s3, "security_mttr_mean", ORG, "1d") == (18000.0, 1)
    assert value(s3, "downtime_cost", S_WEB, "1d") == (300.0, 1)  # 06:00-11:00
    s9 = snapshot(runs["after3"], "2026-03-09")
    assert value(s9, "security_incidents", ORG, "30d", "2026-03-09") == (2.0, 2)  # i1, i2


def test_no_price_no_cost_kpis(sf):
    # the flow scenario prices no service: the cost area is off (no rows), as DORA without repositories
    assert not [k for k in sf if k[1] in ("downtime_cost", "revenue_at_risk")]
    assert [k for k in sf if k[1] == "availability"]
