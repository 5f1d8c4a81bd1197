"""A hand-built DuckDB file with the marts the report reads (kpi_daily_snapshot, kpi_catalog, dim_kpi_scopes,
pipeline_health_daily), shared by the report's unit tests and the browser test.

Report date 2026-03-10; the comparison date is 2026-03-03 (7 days earlier). Service and team names and a
failed check name carry HTML / script / quotes / ampersands: they must come out as text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[1]
CATALOG_SEED = REPO_ROOT / "dbt_project" / "seeds" / "kpi_catalog.csv"
REPORT_DATE = date(2026, 3, 10)
BEFORE = REPORT_DATE - timedelta(days=7)
COMPUTED_AT = datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
NASTY_SERVICE = "<script>alert(\"pwn\")</script> & 'Co'"
NASTY_TEAM = 'Team "Blue" & <b>bold</b>'
NASTY_CHECK = "expect_column_values_to_not_be_null(<img src=x onerror=alert(1)>)"

SNAPSHOT_DDL = """
create schema if not exists marts;
create table marts.kpi_daily_snapshot (
    snapshot_date DATE, kpi VARCHAR, scope_type VARCHAR, scope_id VARCHAR, "window" VARCHAR, value DOUBLE,
    unit VARCHAR, sample_size BIGINT, run_id VARCHAR, computed_at TIMESTAMPTZ);
create table marts.dim_kpi_scopes (scope_type VARCHAR, scope_id VARCHAR, scope_name VARCHAR, team VARCHAR);
create table marts.pipeline_source_freshness_daily (
    snapshot_date DATE, run_id VARCHAR, source VARCHAR, source_table VARCHAR, status VARCHAR,
    max_loaded_at TIMESTAMPTZ, snapshotted_at TIMESTAMPTZ, age_s DOUBLE, warn_after_s DOUBLE, error_after_s DOUBLE);
create table marts.pipeline_health_daily (
    snapshot_date DATE, source VARCHAR, stream VARCHAR, last_loaded_at TIMESTAMPTZ, batches_loaded BIGINT,
    rows_landed BIGINT, rows_changed BIGINT, validations_24h BIGINT, failed_validations_24h BIGINT,
    failed_expectations_24h BIGINT, failed_checks VARCHAR, newest_record_at TIMESTAMPTZ, freshness_s DOUBLE,
    run_id VARCHAR, computed_at TIMESTAMPTZ);
"""

# (date, kpi, scope_type, scope_id, window, value, unit, sample_size)
# Consistent with the definitions (docs/metrics.md): budget left = 100 x (1 - downtime / ((1 - SLO) x 30 days)).
ROWS = [
    # availability: the tile is over 30 days, the SLO window. org 30d: 99.77125 now (the mean of its services),
    # 99.6 a week earlier -> +0.2 pp. svc-a 99.98 >= SLO 99.9 (budget 80 % left); svc-b 99.5625 >= SLO 99.5
    # (budget 12.5 % left) -> "SLO met". The 7-day values are shown in the services table only.
    (REPORT_DATE, "availability", "org", "org", "1d", 100.0, "pct", 2),
    (REPORT_DATE, "availability", "org", "org", "7d", 99.5, "pct", 14),
    (REPORT_DATE, "availability", "org", "org", "30d", 99.77125, "pct", 60),
    (BEFORE, "availability", "org", "org", "7d", 99.0, "pct", 14),
    (BEFORE, "availability", "org", "org", "30d", 99.6, "pct", 60),
    (REPORT_DATE, "availability", "service", "svc-a", "7d", 99.95, "pct", 7),
    (REPORT_DATE, "availability", "service", "svc-b", "7d", 99.05, "pct", 7),
    (REPORT_DATE, "availability", "service", "svc-a", "30d", 99.98, "pct", 30),
    (REPORT_DATE, "availability", "service", "svc-b", "30d", 99.5625, "pct", 30),
    (REPORT_DATE, "availability_slo_target", "service", "svc-a", "30d", 99.9, "pct", None),
    (REPORT_DATE, "availability_slo_target", "service", "svc-b", "30d", 99.5, "pct", None),
    # error budget: per service only; worst is svc-b 12.5 (< 25: at risk), 40.0 a week earlier -> -27.5 pp
    (REPORT_DATE, "error_budget_remaining", "service", "svc-a", "30d", 80.0, "pct", 30),
    (REPORT_DATE, "error_budget_remaining", "service", "svc-b", "30d", 12.5, "pct", 30),
    (BEFORE, "error_budget_remaining", "service", "svc-b", "30d", 40.0, "pct", 30),
    # MTTR mean, org 7d: 5400 s (1.5 h) vs 7200 s -> -30 min, better (down is good: green)
    (REPORT_DATE, "mttr_mean", "org", "org", "7d", 5400.0, "s", 4),
    (BEFORE, "mttr_mean", "org", "org", "7d", 7200.0, "s", 3),
    # MTTR median, org 7d: 3600 s vs 2400 s -> +20 min, worse (up is bad: red)
    (REPORT_DATE, "mttr_p50", "org", "org", "7d", 3600.0, "s", 4),
    (BEFORE, "mttr_p50", "org", "org", "7d", 2400.0, "s", 3),
    # MTTA median, org 7d: 150 s = 2.5 min, no value a week earlier
    (REPORT_DATE, "mtta_p50", "org", "org", "7d", 150.0, "s", 4),
    (BEFORE, "mtta_p50", "org", "org", "7d", None, "s", 0),
    # open incidents: 2 now and a week earlier -> steady
    (REPORT_DATE, "incidents_open", "org", "org", "1d", 2.0, "count", 2),
    (BEFORE, "incidents_open", "org", "org", "1d", 2.0, "count", 2),
]
# The issue-20 report, rebuilt: svc-b overspent its budget 3 times (-300 %: 3 x 0.5 % x 30 days = 648 min of
# downtime beyond the budget), less than a week earlier (-400 %: 864 min), so the percentage "improved" by
# +100 pp; and svc-b had no downtime in the last 7 days (100 %), above its SLO. Neither may read as good.
EXHAUSTED = {
    (REPORT_DATE, "availability", "service", "svc-b", "7d"): 100.0,
    (REPORT_DATE, "availability", "service", "svc-b", "30d"): 98.0,
    (REPORT_DATE, "availability", "org", "org", "30d"): 98.99,
    (REPORT_DATE, "error_budget_remaining", "service", "svc-b", "30d"): -300.0,
    (BEFORE, "error_budget_remaining", "service", "svc-b", "30d"): -400.0,
}


def exhausted_rows() -> list[tuple]:
    return [(*r[:5], EXHAUSTED.get(r[:5], r[5]), *r[6:]) for r in ROWS]


# daily availability per service for the charts: svc-b dips below its SLO on 03-08
for offset in range(8):
    day = BEFORE + timedelta(days=offset)
    ROWS.append((day, "availability", "service", "svc-a", "1d", 100.0, "pct", 1))
    ROWS.append((day, "availability", "service", "svc-b", "1d", 97.0 if day == date(2026, 3, 8) else 100.0, "pct", 1))

# DORA tiers exist over 30 days only, so the tiles are over 30 days: a quiet last week (0 deployments in 7 days)
# must not read "0.00 /day — High".
DORA_ROWS = [
    (REPORT_DATE, "deployment_frequency", "org", "org", "7d", 0.0, "per_day", 0),
    (BEFORE, "deployment_frequency", "org", "org", "7d", 1.0, "per_day", 7),
    (REPORT_DATE, "deployment_frequency", "org", "org", "30d", 1.2, "per_day", 36),
    (BEFORE, "deployment_frequency", "org", "org", "30d", 1.0, "per_day", 30),
    (REPORT_DATE, "lead_time_p50", "org", "org", "7d", 20 * 3600.0, "s", 9),
    (REPORT_DATE, "lead_time_p50", "org", "org", "30d", 30 * 3600.0, "s", 30),
    (REPORT_DATE, "dora_tier_deployment_frequency", "org", "org", "30d", 2.0, "tier", 30),
    (REPORT_DATE, "dora_tier_lead_time", "team", "payments", "30d", 2.0, "tier", 5),
    (REPORT_DATE, "dora_tier_lead_time", "team", "web", "30d", 3.0, "tier", 4),
]
SECURITY_ROWS = [
    (REPORT_DATE, "alerts_open_critical", "org", "org", "1d", 1.0, "count", 1),
    (REPORT_DATE, "alerts_open_high", "org", "org", "1d", 3.0, "count", 3),
    (REPORT_DATE, "alerts_open_medium", "org", "org", "1d", 5.0, "count", 5),
    (REPORT_DATE, "alerts_open_low", "org", "org", "1d", 0.0, "count", 0),
    (REPORT_DATE, "alerts_in_breach", "org", "org", "1d", 2.0, "count", 2),
    (REPORT_DATE, "sla_compliance", "org", "org", "1d", 77.8, "pct", 9),
]


def build_source(path: Path, *, extra_rows: list[tuple] = (), title_rows: bool = True,
                 rows: list[tuple] | None = None) -> Path:
    """Write the marts to `path` (a new DuckDB file) and return it; `rows` replaces ROWS (exhausted_rows())."""
    con = duckdb.connect(str(path))
    try:
        con.execute(SNAPSHOT_DDL)
        rows = [(*r, "run-42" if r[0] == REPORT_DATE else "run-35", COMPUTED_AT)
                for r in [*(ROWS if rows is None else rows), *extra_rows]]
        con.executemany("insert into marts.kpi_daily_snapshot values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute(f"""create table marts.kpi_catalog as
                        select * from read_csv('{CATALOG_SEED}', header = true, all_varchar = true)""")
        con.execute("alter table marts.kpi_catalog alter tile type boolean")
        con.execute("alter table marts.kpi_catalog alter display_order type integer")
        if title_rows:
            con.executemany("insert into marts.dim_kpi_scopes values ('service', ?, ?, ?)",
                            [("svc-a", NASTY_SERVICE, NASTY_TEAM), ("svc-b", "Web & Mobile", "web")])
        con.executemany(
            "insert into marts.pipeline_health_daily values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'run-42', ?)",
            [(REPORT_DATE, "pagerduty", "incidents", datetime(2026, 3, 11, 5, 58, tzinfo=UTC), 1, 120, 7, 1, 0, 0,
              None, datetime(2026, 3, 10, 23, 0, tzinfo=UTC), 3600.0, COMPUTED_AT),
             (REPORT_DATE, "jira", "issues", datetime(2026, 3, 9, 5, 0, tzinfo=UTC), 0, 0, 0, 1, 1, 1,
              NASTY_CHECK, datetime(2026, 3, 9, 4, 0, tzinfo=UTC), 158400.0, COMPUTED_AT)],
        )
        # dbt source freshness after the load: pagerduty's two tables pass; jira's issues were last written
        # 44 h before the check, past its 36 h warn_after (a warn, shown, never failing the run)
        con.executemany(
            "insert into marts.pipeline_source_freshness_daily values (?, 'run-42', ?, ?, ?, ?, ?, ?, 129600, 259200)",
            [(REPORT_DATE, "pagerduty", "incidents", "pass", datetime(2026, 3, 11, 5, 58, tzinfo=UTC), COMPUTED_AT,
              120.0),
             (REPORT_DATE, "pagerduty", "services", "pass", datetime(2026, 3, 11, 5, 58, tzinfo=UTC), COMPUTED_AT,
              120.0),
             (REPORT_DATE, "jira", "issues", "warn", datetime(2026, 3, 9, 10, 0, tzinfo=UTC), COMPUTED_AT,
              158400.0),
             (BEFORE, "jira", "issues", "error", datetime(2026, 2, 28, 0, 0, tzinfo=UTC), COMPUTED_AT, 400000.0)],
        )
    finally:
        con.close()
    return path
