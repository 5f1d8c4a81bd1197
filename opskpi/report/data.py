"""Load what one day's report shows: the KPI snapshot history, the KPI catalog, scope names and data health.

Everything comes from a DuckDB file holding the `marts` schema: the published file (`published/opskpi.duckdb`,
what BI reads) or the live warehouse. Values are read from `marts.kpi_daily_snapshot` only, never recomputed
from the marts, so a past day's report shows what that day's run computed. The one detail the snapshot cannot hold,
which criteria block a scope's next maturity level, comes from `marts.mart_maturity_scorecard` of the report date;
the level itself is the snapshot's, and the report says so when the scorecard has since been recomputed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

SNAPSHOT_TABLE = "marts.kpi_daily_snapshot"
HISTORY_DAYS = 37  # 30 days of charts, plus the 7 days before for the change of the first point
CATALOG_SEED = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "kpi_catalog.csv"


class ReportDataError(RuntimeError):
    """The source has no snapshot for the requested date (or no snapshot table at all)."""


@dataclass(frozen=True)
class KpiInfo:
    kpi: str
    area: str
    label: str
    unit: str
    direction: str = "none"
    tile: bool = False
    status_rule: str = "none"
    status_kpi: str | None = None
    display_order: int = 1000
    description: str = ""


@dataclass(frozen=True)
class KpiValue:
    snapshot_date: date
    kpi: str
    scope_type: str
    scope_id: str
    window: str
    value: float | None
    unit: str
    sample_size: int | None
    run_id: str
    computed_at: datetime | None
    # False: the window reaches before the area's first complete day (provisional); None: not recorded (older rows)
    sample_complete: bool | None = None


@dataclass(frozen=True)
class HealthRow:
    source: str
    stream: str
    last_loaded_at: datetime | None
    batches_loaded: int
    rows_landed: int
    rows_changed: int
    validations_24h: int
    failed_validations_24h: int
    failed_expectations_24h: int
    failed_checks: str | None
    newest_record_at: datetime | None
    freshness_s: float | None
    not_enabled: str | None = None  # e.g. "not enabled (HTTP 402)": an optional stream the API does not serve


@dataclass(frozen=True)
class FreshnessRow:
    """One raw table's `dbt source freshness` result of the report date (marts.pipeline_source_freshness_daily)."""

    source: str
    source_table: str
    status: str
    max_loaded_at: datetime | None
    age_s: float | None
    warn_after_s: float | None
    error_after_s: float | None


@dataclass(frozen=True)
class MaturityCriterion:
    """One criterion of the maturity scorecard on the report date (marts.mart_maturity_scorecard): what the report's
    maturity section lists when it blocks a scope's next level."""

    scope_type: str
    scope_id: str
    rubric_version: str
    level: int
    criterion_id: str
    kind: str
    evidence: str
    evidence_value: float | None
    comparison: str | None
    threshold: float | None
    window_days: int | None
    min_sample: int | None
    sample_size: int | None
    status: str
    is_met: bool
    description: str = ""
    attested_by: str | None = None
    expires_at: datetime | None = None


@dataclass
class ReportData:
    report_date: date
    values: list[KpiValue]
    catalog: dict[str, KpiInfo]
    scope_names: dict[tuple[str, str], str] = field(default_factory=dict)
    scope_teams: dict[tuple[str, str], str] = field(default_factory=dict)
    health: list[HealthRow] = field(default_factory=list)
    health_computed_at: datetime | None = None
    freshness: list[FreshnessRow] = field(default_factory=list)
    currency: str | None = None  # of the `money` KPIs (business_impact.currency), from mart_downtime_cost_daily
    # the scorecard of the report date (the level itself and its history come from the snapshot)
    maturity: list[MaturityCriterion] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._index = {(v.snapshot_date, v.kpi, v.scope_type, v.scope_id, v.window): v for v in self.values}
        for v in self.values:  # KPIs the catalog does not know are shown with their own name
            if v.kpi not in self.catalog:
                self.catalog[v.kpi] = KpiInfo(v.kpi, "other", v.kpi, v.unit, tile=v.scope_type == "org")

    def get(self, kpi: str, scope_type: str, scope_id: str, window: str, day: date | None = None) -> KpiValue | None:
        return self._index.get((day or self.report_date, kpi, scope_type, scope_id, window))

    def today(self) -> list[KpiValue]:
        return [v for v in self.values if v.snapshot_date == self.report_date]

    @property
    def run_id(self) -> str:
        ids = sorted({v.run_id for v in self.today()})
        return ", ".join(ids)

    @property
    def computed_at(self) -> datetime | None:
        stamps = [v.computed_at for v in self.today() if v.computed_at is not None]
        return max(stamps) if stamps else None

    def scope_name(self, scope_type: str, scope_id: str) -> str:
        return self.scope_names.get((scope_type, scope_id), scope_id)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, table]
    ).fetchone()[0] > 0


def _has_column(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    return con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? AND column_name = ?",
        [schema, table, column]).fetchone()[0] > 0


def _dated_rows(con: duckdb.DuckDBPyConnection, row_type: type, table: str, day_column: str, day: date,
                order_by: str) -> list[Any]:
    """The rows of marts.`table` for one day as `row_type` dataclasses (its fields are the columns read); [] when
    the file has no such table (published before the mart existed)."""
    if not _has_table(con, "marts", table):
        return []
    columns = ", ".join(row_type.__dataclass_fields__)
    return [row_type(**r) for r in _rows(
        con, f"SELECT {columns} FROM marts.{table} WHERE {day_column} = ? ORDER BY {order_by}", [day])]


def _catalog_from_rows(rows: Iterable[dict[str, Any]]) -> dict[str, KpiInfo]:
    catalog = {}
    for r in rows:
        tile = r.get("tile")
        tile = tile if isinstance(tile, bool) else str(tile).strip().lower() == "true"
        catalog[r["kpi"]] = KpiInfo(
            kpi=r["kpi"], area=r["area"], label=r["label"], unit=r["unit"], direction=r.get("direction") or "none",
            tile=tile, status_rule=r.get("status_rule") or "none", status_kpi=r.get("status_kpi") or None,
            display_order=int(r.get("display_order") or 1000), description=r.get("description") or "",
        )
    return catalog


def seed_catalog() -> dict[str, KpiInfo]:
    """The catalog seed itself: used when the source predates marts.kpi_catalog."""
    with CATALOG_SEED.open(newline="") as handle:
        return _catalog_from_rows(csv.DictReader(handle))


def available_dates(path: Path) -> list[date]:
    with duckdb.connect(str(path), read_only=True) as con:
        if not _has_table(con, "marts", "kpi_daily_snapshot"):
            return []
        return [r[0] for r in con.execute(f"SELECT DISTINCT snapshot_date FROM {SNAPSHOT_TABLE} ORDER BY 1").fetchall()]


def load_report_data(path: Path, report_date: date) -> ReportData:
    """The snapshot rows of report_date and the 36 days before, the catalog, scope names and health rows."""
    if not Path(path).exists():
        raise ReportDataError(f"{path} does not exist; run the pipeline (opskpi run) first")
    with duckdb.connect(str(path), read_only=True) as con:
        if not _has_table(con, "marts", "kpi_daily_snapshot"):
            raise ReportDataError(f"{path} has no {SNAPSHOT_TABLE}; run dbt build (opskpi run) first")
        start = report_date - timedelta(days=HISTORY_DAYS - 1)
        complete = ("sample_complete" if _has_column(con, "marts", "kpi_daily_snapshot", "sample_complete")
                    else "NULL AS sample_complete")  # files published before the column existed
        rows = _rows(con, f"""SELECT snapshot_date, kpi, scope_type, scope_id, "window", value, unit, sample_size,
                                     run_id, computed_at, {complete}
                              FROM {SNAPSHOT_TABLE} WHERE snapshot_date BETWEEN ? AND ?""", [start, report_date])
        if not any(r["snapshot_date"] == report_date for r in rows):
            known = [r[0] for r in con.execute(
                f"SELECT DISTINCT snapshot_date FROM {SNAPSHOT_TABLE} ORDER BY 1 DESC LIMIT 5").fetchall()]
            raise ReportDataError(f"no KPI snapshot for {report_date} in {path}; latest dates: "
                                  + (", ".join(d.isoformat() for d in known) or "none"))
        values = [KpiValue(**{**r, "value": None if r["value"] is None else float(r["value"])}) for r in rows]
        catalog = (_catalog_from_rows(_rows(con, "SELECT * FROM marts.kpi_catalog"))
                   if _has_table(con, "marts", "kpi_catalog") else seed_catalog())
        names, teams = {}, {}
        if _has_table(con, "marts", "dim_kpi_scopes"):
            for r in _rows(con, "SELECT scope_type, scope_id, scope_name, team FROM marts.dim_kpi_scopes"):
                if r["scope_name"]:
                    names[(r["scope_type"], r["scope_id"])] = r["scope_name"]
                if r["team"]:
                    teams[(r["scope_type"], r["scope_id"])] = r["team"]
        health: list[HealthRow] = []
        health_at = None
        if _has_table(con, "marts", "pipeline_health_daily"):
            columns = {r["column_name"] for r in _rows(
                con, "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'marts' "
                     "AND table_name = 'pipeline_health_daily'")}
            fields = [f for f in HealthRow.__dataclass_fields__ if f in columns]  # older files lack newer columns
            hrows = _rows(con, f"SELECT {', '.join(fields)}, computed_at FROM marts.pipeline_health_daily "
                               "WHERE snapshot_date = ? ORDER BY source, stream", [report_date])
            health = [HealthRow(**{k: r[k] for k in fields}) for r in hrows]
            health_at = max((r["computed_at"] for r in hrows), default=None)
        freshness = _dated_rows(con, FreshnessRow, "pipeline_source_freshness_daily", "snapshot_date", report_date,
                                "source, source_table")
        currency = None
        if _has_table(con, "marts", "mart_downtime_cost_daily"):
            found = con.execute("SELECT min(currency) FROM marts.mart_downtime_cost_daily").fetchone()
            currency = found[0] if found else None
        maturity = _dated_rows(con, MaturityCriterion, "mart_maturity_scorecard", "day", report_date,
                               "scope_type, scope_id, level, criterion_id")
    return ReportData(report_date, values, catalog, names, teams, health, health_at, freshness, currency, maturity)
