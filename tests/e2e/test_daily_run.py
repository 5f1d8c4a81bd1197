"""The DAG through Airflow against the emulator: published marts equal values computed from the APIs.

Two runs (the shared ones of org_runs.py): a first full one, then — after the emulator's clock moves a day, so
new incidents appear and open ones resolve — an incremental one, which must agree with a full re-read of the API.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from opskpi import bi_docs
from tests.e2e.org_runs import DAY1, DAY2, TOKENS, OrgRuns
from tests.e2e.reference import availability, detection, incident_response, pagerduty_all

pytestmark = pytest.mark.e2e


def published_availability(data_dir: Path) -> dict:
    with duckdb.connect(str(data_dir / "published" / "opskpi.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT service_id, day, downtime_s, availability_pct, incident_count FROM marts.mart_availability_daily"
        ).fetchall()
    return {(sid, day): {"downtime_s": d, "availability_pct": a, "incident_count": n} for sid, day, d, a, n in rows}


def assert_matches(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected), (
        f"missing {sorted(set(expected) - set(actual))[:5]} extra {sorted(set(actual) - set(expected))[:5]}")
    for key, want in expected.items():
        got = actual[key]
        assert got["incident_count"] == want["incident_count"], key
        assert got["downtime_s"] == pytest.approx(want["downtime_s"], abs=1e-3), key
        assert got["availability_pct"] == pytest.approx(want["availability_pct"], abs=1e-9), key


def published_response(data_dir: Path) -> dict:
    """mart_incident_response_daily's service and org rows (team rows depend on our team mapping)."""
    with duckdb.connect(str(data_dir / "published" / "opskpi.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT scope_type, scope_id, day, incidents_created, incidents_resolved, open_at_end_of_day,"
            " mtta_s_mean, mtta_s_p50, mtta_s_p90, mtta_sample_size,"
            " mttr_s_mean, mttr_s_p50, mttr_s_p90, mttr_sample_size"
            " FROM marts.mart_incident_response_daily WHERE scope_type IN ('service', 'org')").fetchall()
    return {(t, i, d): {"incidents_created": c, "incidents_resolved": r, "open_at_end_of_day": o,
                        "mtta": {"mean": am, "p50": a50, "p90": a90, "n": an},
                        "mttr": {"mean": rm, "p50": r50, "p90": r90, "n": rn}}
            for t, i, d, c, r, o, am, a50, a90, an, rm, r50, r90, rn in rows}


def assert_response_matches(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected), (
        f"missing {sorted(set(expected) - set(actual))[:5]} extra {sorted(set(actual) - set(expected))[:5]}")
    for key, want in expected.items():
        got = actual[key]
        for count in ("incidents_created", "incidents_resolved", "open_at_end_of_day"):
            assert got[count] == want[count], (key, count, got[count], want[count])
        for kpi in ("mtta", "mttr"):
            assert got[kpi]["n"] == want[kpi]["n"], (key, kpi)
            for stat in ("mean", "p50", "p90"):
                if want[kpi][stat] is None:
                    assert got[kpi][stat] is None, (key, kpi, stat)
                else:
                    assert got[kpi][stat] == pytest.approx(want[kpi][stat], abs=1e-3), (key, kpi, stat)


def reference(base_url: str, run_date: date) -> tuple[dict, dict]:
    """(availability, incident response) for `run_date`, from a full read of the PagerDuty API."""
    as_of = datetime(run_date.year, run_date.month, run_date.day, tzinfo=UTC) + timedelta(days=1)
    pd, token = f"{base_url}/pagerduty", TOKENS["OPSKPI_PAGERDUTY_TOKEN"]
    services = pagerduty_all(pd, token, "/services", "services")
    incidents = pagerduty_all(pd, token, "/incidents", "incidents", {"date_range": "all", "time_zone": "UTC"})
    log_entries = {i["id"]: pagerduty_all(pd, token, f"/incidents/{i['id']}/log_entries", "log_entries",
                                          {"time_zone": "UTC"}) for i in incidents}
    return (availability(services, incidents, run_date, as_of),
            incident_response(services, incidents, log_entries, run_date, as_of))


def test_daily_run_then_incremental_day_match_the_api(org_runs: OrgRuns):
    first_dir, data_dir = org_runs.data_dir(DAY1), org_runs.data_dir(DAY2)
    first = published_availability(first_dir)
    with org_runs.api(DAY1) as base:
        expected_availability, expected_response = reference(base, DAY1)
    assert_matches(first, expected_availability)
    assert_response_matches(published_response(first_dir), expected_response)
    assert sum(v["mtta"]["n"] for k, v in expected_response.items() if k[0] == "org") > 10, "MTTA is exercised"

    second = published_availability(data_dir)
    with org_runs.api(DAY2) as base:
        expected_availability, expected_response = reference(base, DAY2)
    assert_matches(second, expected_availability)
    assert_response_matches(published_response(data_dir), expected_response)
    assert (data_dir / "published" / "parquet" / "mart_availability_daily.parquet").exists()
    # A BI reader held the published file open read-only, in another process, all through the second run: every
    # look it took saw one complete set, the old one or (reopening) the new one.
    observations = set(org_runs.reader_seen)
    assert observations and observations <= {f"{len(first)}", f"{len(second)}"}, observations

    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        batches = con.execute(
            "SELECT source || '__' || stream, run_id, requests FROM meta.batches ORDER BY loaded_at").fetchall()
        pulls = con.execute("SELECT count(*), count(DISTINCT (repo, number)) FROM raw.github__pulls").fetchone()
    assert pulls[0] == pulls[1] > 0, "one row per pull request"
    runs = sorted({run for _, run, _ in batches})
    assert len(runs) == 2
    full: dict[str, int] = {}
    incremental: dict[str, int] = {}
    for stream, run, spent in batches:  # one batch per stream and mapped partition (repository)
        target = full if run == runs[0] else incremental
        target[stream] = target.get(stream, 0) + spent
    # The second day re-reads only its lookback windows: fewer requests than the first run.
    assert incremental["github__pulls"] < full["github__pulls"]


def test_the_published_file_documents_itself(org_runs: OrgRuns):
    """Issue 19: a SQL client's schema browser explains what BI reads. Every published table and column carries
    its dbt description as a comment, the unique keys dbt's tests prove are primary keys, and counts stay
    integers in DuckDB and in Parquet (a HUGEINT sum would be a DOUBLE in Parquet)."""
    import pyarrow.parquet as pq

    published = org_runs.data_dir(DAY2) / "published"
    with duckdb.connect(str(published / "opskpi.duckdb"), read_only=True) as con:
        tables = con.execute("SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall()
        columns = con.execute("SELECT table_name, column_name, comment, data_type FROM duckdb_columns() "
                              "WHERE schema_name = 'marts'").fetchall()
        keys = {t: cols for t, cols in con.execute(
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE schema_name = 'marts' AND constraint_type = 'PRIMARY KEY'").fetchall()}
    assert len(tables) >= 20 and len(columns) >= 230
    assert [t for t, comment in tables if not comment] == []
    assert [f"{t}.{c}" for t, c, comment, _ in columns if not comment] == []
    assert [f"{t}.{c}" for t, c, _, dtype in columns if dtype == "HUGEINT"] == []
    assert keys["fct_incidents"] == ["incident_id"] and keys["fct_pull_requests"] == ["repo", "number"]
    assert keys["kpi_daily_snapshot"] == ["snapshot_date", "kpi", "scope_type", "scope_id", "window"]
    weekly = pq.read_schema(published / "parquet" / "mart_dora_weekly.parquet")
    assert str(weekly.field("deployments").type) == "int64"


def test_dbt_docs_show_who_reads_the_marts(org_runs: OrgRuns):
    """Issue 19 (item 5): the nightly report is a dbt exposure on the marts it reads, and the docs page opens on
    an overview of the project; both are in the manifest of the run's build (the docs page is made from it)."""
    import json

    manifest = json.loads((org_runs.data_dir(DAY2) / "dbt" / "target" / "manifest.json").read_text())
    report = manifest["exposures"]["exposure.opskpi.nightly_report"]
    assert set(report["depends_on"]["nodes"]) >= {"model.opskpi.kpi_daily_snapshot", "seed.opskpi.kpi_catalog",
                                                   "model.opskpi.dim_kpi_scopes"}
    assert "KPI marts" in manifest["docs"]["doc.opskpi.__overview__"]["block_contents"]


def test_time_to_detect_matches_the_api(org_runs: OrgRuns):
    """Issue 21 §1 on the second run: every incident's detection status and delay in fct_incident_detection equal
    those computed from the API's incidents and alerts (reference.detection), and the emulator's variety shows: a
    merged incident, incidents opened by hand (no alerts, detected by a person), unstamped ones, coverage < 100 %."""
    with duckdb.connect(str(org_runs.data_dir(DAY2) / "published" / "opskpi.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT incident_id, detection_status, detection_delay_s, detected_by "
                           "FROM marts.fct_incident_detection").fetchall()
        org = con.execute("SELECT sum(incidents_eligible), sum(detection_sample_size), sum(human_detected) "
                          "FROM marts.mart_detection_daily WHERE scope_type = 'org'").fetchone()
        kpis = {k for (k,) in con.execute("SELECT DISTINCT kpi FROM marts.kpi_daily_snapshot "
                                          "WHERE kpi IN ('mttd_mean', 'mttd_p50', 'detection_coverage', "
                                          "'monitoring_detection_share', 'change_detection_p50')").fetchall()}
    as_of = datetime(DAY2.year, DAY2.month, DAY2.day, tzinfo=UTC) + timedelta(days=1)
    with org_runs.api(DAY2) as base:
        pd, token = f"{base}/pagerduty", TOKENS["OPSKPI_PAGERDUTY_TOKEN"]
        incidents = pagerduty_all(pd, token, "/incidents", "incidents", {"date_range": "all", "time_zone": "UTC"})
        loaded = {r[0] for r in rows}
        alerts = {i["id"]: pagerduty_all(pd, token, f"/incidents/{i['id']}/alerts", "alerts", {"time_zone": "UTC"})
                  for i in incidents if i["id"] in loaded and i["alert_counts"]["all"] > 0}
    expected = detection([i for i in incidents if i["id"] in loaded], alerts, as_of)
    got = {iid: (status, delay) for iid, status, delay, _ in rows}
    assert set(got) == set(expected)
    for iid, (status, delay) in expected.items():
        assert got[iid][0] == status, (iid, got[iid], status)
        assert got[iid][1] == (None if delay is None else pytest.approx(delay, abs=1e-6)), iid
    statuses = {status for status, _ in got.values()}
    assert {"measured", "merged", "no_alerts", "no_stamp"} <= statuses, statuses
    assert {"human"} == {by for _, status, _, by in rows if status == "no_alerts"}
    eligible, measured, human = org
    assert 0 < measured < eligible and human > 0
    assert kpis == {"mttd_mean", "mttd_p50", "detection_coverage", "monitoring_detection_share",
                    "change_detection_p50"}


BI_MD = Path(__file__).resolve().parents[2] / "docs" / "bi.md"


def fenced(markdown: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", markdown, flags=re.M | re.S)


def test_bi_md_tables_are_the_published_schema(org_runs: OrgRuns):
    """Issue 19 (item 3): docs/bi.md's tables, grains and dimension keys are those of the published file."""
    published = org_runs.data_dir(DAY2) / "published" / "opskpi.duckdb"
    expected = bi_docs.render(bi_docs.read_tables(published))
    assert bi_docs.documented_section(BI_MD.read_text(encoding="utf-8")) == expected, "run `make bi-docs`"


def test_every_join_bi_md_documents_keeps_every_row(org_runs: OrgRuns):
    """Issue 19 (item 1): each table joined to all the dimensions docs/bi.md lists for it (inner joins) keeps
    exactly its rows: every key is in its dimension, once. Before the conformed dimensions, 0 of 720."""
    joins = bi_docs.documented_joins(BI_MD.read_text(encoding="utf-8"))
    published = org_runs.data_dir(DAY2) / "published" / "opskpi.duckdb"
    counts = {}
    with duckdb.connect(str(published), read_only=True) as con:
        for table, table_joins in joins.items():
            joined = " ".join(j.sql("f") for j in table_joins)
            counts[table] = con.execute(f"select (select count(*) from marts.{table}), "
                                        f"(select count(*) from marts.{table} as f {joined})").fetchone()
    assert sum(len(j) for j in joins.values()) >= 60
    # not vacuous: the star's facts and marts have rows on the demo organisation
    for table in ("fct_incidents", "fct_deployments", "fct_pull_requests", "fct_jira_issues", "fct_security_alerts",
                  "mart_availability_daily", "mart_dora_daily", "mart_jira_flow_daily", "kpi_daily_snapshot"):
        assert counts[table][0] > 0 and len(joins[table]) >= 2, table
    assert {t: c for t, c in counts.items() if c[0] != c[1]} == {}


def test_bi_md_examples_run_on_the_published_file(org_runs: OrgRuns, monkeypatch):
    """Every query and Python snippet of docs/bi.md runs as written, from the root of a clone (relative paths),
    and returns rows."""
    markdown = BI_MD.read_text(encoding="utf-8")
    data_dir = org_runs.data_dir(DAY2)
    assert data_dir.name == "data"
    monkeypatch.chdir(data_dir.parent)
    queries = fenced(markdown, "sql")
    assert len(queries) >= 3
    with duckdb.connect("data/published/opskpi.duckdb", read_only=True) as con:
        for query in queries:
            assert con.execute(query).fetchall(), query
    for snippet in fenced(markdown, "python"):
        scope: dict = {}
        exec(compile(snippet, "docs/bi.md", "exec"), scope)  # noqa: S102 - the documentation's own example
        assert len(scope["availability"]) > 0 and scope["dora"].num_rows > 0
