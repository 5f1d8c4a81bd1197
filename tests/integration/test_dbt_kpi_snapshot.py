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
             "downtime_priorities": [], "jira_incident_issue_types": []}
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
    )


def late_data() -> h.RawData:
    """Loaded before run 3: i4 resolved at 11:00 (TTR 18000), and i5 on 03-09 that run 1 never saw."""
    inc = h.pd_incident
    return h.RawData(
        pagerduty_incidents=[
            inc("i4", WEB, "2026-03-10T06:00:00Z", "2026-03-10T11:00:00Z"),
            inc("i5", API, "2026-03-09T20:00:00Z", "2026-03-09T21:00:00Z"),
        ],
        pagerduty_log_entries=[
            h.pd_log_entry("i4-resolve", "resolve_log_entry", "i4", "2026-03-10T11:00:00Z"),
            *lifecycle("i5", "2026-03-09T20:00:00Z", "2026-03-09T20:05:00Z", "2026-03-09T21:00:00Z"),
        ],
        config_services=[("svc-api", "payments", 99.0), ("svc-web", "web", 99.5)],
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
    h.load_raw(wh, late_data(), loaded_at=datetime(2026, 3, 10, 12, 30, tzinfo=UTC), batch_id="late")
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
    assert len(s2) == 5 * 3 * 5 + 5 + 2 * 2  # 5 kpis x 3 windows x 5 scopes + open (5) + budget and SLO (2 x 2)
    assert {r["run_id"] for r in s2.values()} == {"run-2"}


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
    assert set(rows) == {("pagerduty", "incidents"), ("pagerduty", "log_entries"), ("jira", "issues")}
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
