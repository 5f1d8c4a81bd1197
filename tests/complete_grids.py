"""Complete grids (issue 18), checked on the marts as published: each daily mart's first day is the first day whose
whole population was extracted, and the days before it are absent (not zero).

The first complete day of a family of marts comes from what the pipeline read, never from the marts themselves:
meta.stream_coverage holds each stream's history window (`window_start` of the first read; docs/metrics.md
"Replaying a past day"). A family's population is complete from the latest of its streams' window starts, plus, for
DORA, `dora.max_deploy_lag` (pull requests are read that much further back so that every deployment of the first
DORA day has all its candidates). A window that starts inside a day leaves that day partial: the first complete
day is the next one.

Every dated table of `marts` must be classified here (MART_FAMILIES, or RUN_BOOKKEEPING): a new daily mart fails
the check until it says which population its days count.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb

# family -> the (source, stream)s whose records its days count (dbt_project/macros/history_window.sql)
FAMILY_STREAMS = {
    "incidents": (("pagerduty", "incidents"),),
    "jira": (("jira", "issues"),),
    "dora": (("github", "pulls"), ("github", "deployments")),
    "security": (("github", "dependabot_alerts"), ("github", "code_scanning_alerts"),
                 ("github", "secret_scanning_alerts")),
}
# Every dated mart -> the families whose grids it spans. Maturity judges incidents and DORA evidence on the union of
# their grids (int_maturity__grid), so it starts with the earlier of the two.
MART_FAMILIES = {
    "mart_incident_response_daily": ("incidents",), "mart_availability_daily": ("incidents",),
    "mart_availability_rollup_daily": ("incidents",), "mart_downtime_cost_daily": ("incidents",),
    "mart_detection_daily": ("incidents",), "mart_security_incidents_daily": ("incidents",),
    "mart_dora_daily": ("dora",), "mart_dora_tier": ("dora",), "mart_dora_weekly": ("dora",),
    "mart_jira_flow_daily": ("jira",), "mart_e2e_lead_time_daily": ("jira",),
    "mart_security_posture_daily": ("security",), "mart_patch_compliance_daily": ("security",),
    "mart_maturity_level_daily": ("incidents", "dora"), "mart_maturity_scorecard": ("incidents", "dora"),
}
# kpi_daily_snapshot: each area's KPIs follow that area's grid (models/marts/kpi_snapshot/kpi_daily_snapshot.sql)
SNAPSHOT_AREA_FAMILIES = {
    "availability": ("incidents",), "incidents": ("incidents",), "security_incidents": ("incidents",),
    "downtime_cost": ("incidents",), "detection": ("incidents",), "dora": ("dora",), "jira_flow": ("jira",),
    "lead_time_e2e": ("jira",), "security": ("security",), "maturity": ("incidents", "dora"),
}
# What each run records about itself: dated by the run, not by a population.
RUN_BOOKKEEPING = frozenset({"pipeline_health_daily", "pipeline_source_freshness_daily"})
DATE_COLUMNS = ("day", "snapshot_date", "week_start")


def first_complete_days(warehouse: duckdb.DuckDBPyConnection, timezone: str, max_deploy_lag: timedelta,
                        jira_incidents: bool) -> dict[str, date]:
    """family -> its first complete day (reporting `timezone`), from meta.stream_coverage of `warehouse`; with
    `jira_incidents` (config incidents.jira_issue_types) the incidents are Jira issues too, read in their window."""
    starts = dict(((s, t), w) for s, t, w in warehouse.execute(
        "select source, stream, min(window_start) from meta.stream_coverage group by all").fetchall())
    out = {}
    for family, streams in FAMILY_STREAMS.items():
        if family == "incidents" and jira_incidents:
            streams = (*streams, ("jira", "issues"))
        missing = [s for s in streams if s not in starts]
        assert not missing, f"{family}: no history window recorded for {missing}"
        start = max(starts[s] for s in streams) + (max_deploy_lag if family == "dora" else timedelta(0))
        out[family] = _first_whole_day(start, ZoneInfo(timezone))
    return out


def _first_whole_day(instant: datetime, tz: ZoneInfo) -> date:
    local = instant.astimezone(tz)
    return local.date() if local.time() == datetime.min.time() else local.date() + timedelta(days=1)


def grid_violations(marts: duckdb.DuckDBPyConnection, first_days: dict[str, date], run_date: date) -> list[str]:
    """What in the marts of `marts` (a connection with schema `marts`) breaks complete grids: a dated mart not
    classified; a daily mart (or snapshot KPI) whose first day is not its families' first complete day (the
    earliest of them), with a day outside its grid, or (a daily mart) missing a day between its first day and
    `run_date`. Empty when every grid is complete."""
    problems = []
    dated = marts.execute(
        "select table_name, column_name from duckdb_columns() where schema_name = 'marts' and column_name in "
        f"({', '.join(repr(c) for c in DATE_COLUMNS)}) order by 1").fetchall()
    for table, column in dated:
        if table in RUN_BOOKKEEPING:
            continue
        if table == "kpi_daily_snapshot":
            problems += _snapshot_violations(marts, first_days, run_date)
            continue
        if table not in MART_FAMILIES:
            problems.append(f"{table}: a dated mart of no family (tests/complete_grids.py MART_FAMILIES)")
            continue
        first = min(first_days[f] for f in MART_FAMILIES[table])
        days = {r[0] for r in marts.execute(f'select distinct "{column}" from marts."{table}"').fetchall()}
        if column == "week_start":  # weeks (Monday) from the week of the first day, each counting its days only
            first = first - timedelta(days=first.weekday())
            expected = {first + timedelta(weeks=i) for i in range((run_date - first).days // 7 + 1)}
        else:
            expected = {first + timedelta(days=i) for i in range((run_date - first).days + 1)}
        problems += _compare(table, days, expected)
    return problems


def _snapshot_violations(marts: duckdb.DuckDBPyConnection, first_days: dict[str, date], run_date: date
                         ) -> list[str]:
    """Each area's KPIs of kpi_daily_snapshot: dated from the area's first complete day, none before it or after
    run_date."""
    problems = []
    area_of = dict(marts.execute("select kpi, area from marts.kpi_catalog").fetchall())
    dates: dict[str, set[date]] = {}
    for kpi, day in marts.execute("select distinct kpi, snapshot_date from marts.kpi_daily_snapshot").fetchall():
        dates.setdefault(kpi, set()).add(day)
    for kpi, days in sorted(dates.items()):
        area = _snapshot_area(kpi, area_of.get(kpi))
        first = min(first_days[f] for f in SNAPSHOT_AREA_FAMILIES[area])
        grid = {first + timedelta(days=i) for i in range((run_date - first).days + 1)}
        # the first build fills every date of the grid; later ones add the dates a run covered (a night without a
        # run has no snapshot): from the first complete day on, no date before it or past the run's
        problems += _compare(f"kpi_daily_snapshot[{kpi}]", days, {d for d in grid if d in days or d == first})
    return problems


# The catalog's areas group KPIs for readers; these KPIs come from another grid than their catalog area's.
SNAPSHOT_AREA_OF_KPI = {
    **dict.fromkeys(("downtime_cost", "revenue_at_risk", "downtime_cost_coverage"), "downtime_cost"),
    **dict.fromkeys(("security_incidents", "security_mttr_mean", "security_mttr_p50", "security_incidents_open"),
                    "security_incidents"),
    **dict.fromkeys(("e2e_lead_time_p50", "start_to_deploy_p50", "e2e_link_coverage"), "lead_time_e2e"),
}


def _snapshot_area(kpi: str, catalog_area: str | None) -> str:
    area = SNAPSHOT_AREA_OF_KPI.get(kpi, catalog_area)
    assert area in SNAPSHOT_AREA_FAMILIES, f"snapshot KPI {kpi} of unknown area {catalog_area}"
    return area


def _compare(name: str, days: set[date], expected: set[date]) -> list[str]:
    if days == expected:
        return []
    extra, missing = sorted(days - expected), sorted(expected - days)
    return [f"{name}: first day {min(days, default=None)}, expected {min(expected)}"
            + (f"; {len(extra)} days not expected ({extra[0]} ..)" if extra else "")
            + (f"; {len(missing)} days missing ({missing[0]} ..)" if missing else "")]


# Marts whose rows carry `sample_complete`: the length of the rolling window behind it, in days.
SAMPLE_WINDOWS = {"mart_availability_daily": 30, "mart_dora_tier": 30}
SNAPSHOT_WINDOW_DAYS = {"1d": 1, "7d": 7, "30d": 30}


def sample_complete_violations(marts: duckdb.DuckDBPyConnection, first_days: dict[str, date]) -> list[str]:
    """Rows whose `sample_complete` is not what their window says: true exactly when the window's first day
    (day - (length - 1)) is on or after the first complete day of the row's families (the earliest of them). Checks
    SAMPLE_WINDOWS' marts and every row of kpi_daily_snapshot (the window of the row, the grid of its area)."""
    problems = []
    for table, length in SAMPLE_WINDOWS.items():
        first = min(first_days[f] for f in MART_FAMILIES[table])
        wrong = marts.execute(f"""
            select count(*), min(day) from marts."{table}"
            where sample_complete is distinct from (day - {length - 1} >= ?)""", [first]).fetchone()
        if wrong[0]:
            problems.append(f"{table}: {wrong[0]} rows with a wrong sample_complete (first on {wrong[1]})")
    area_of = dict(marts.execute("select kpi, area from marts.kpi_catalog").fetchall())
    rows = marts.execute("""select kpi, "window", snapshot_date, sample_complete, count(*)
                            from marts.kpi_daily_snapshot group by all""").fetchall()
    wrong_rows: dict[str, int] = {}
    for kpi, window, day, complete, count in rows:
        first = min(first_days[f] for f in SNAPSHOT_AREA_FAMILIES[_snapshot_area(kpi, area_of.get(kpi))])
        if complete is not (day - timedelta(days=SNAPSHOT_WINDOW_DAYS[window] - 1) >= first):
            wrong_rows[f"{kpi} {window}"] = wrong_rows.get(f"{kpi} {window}", 0) + count
    problems += [f"kpi_daily_snapshot[{key}]: {n} rows with a wrong sample_complete"
                 for key, n in sorted(wrong_rows.items())]
    return problems
