"""`dbt source freshness` in the transform step: after load, just before the build, in the build's dbt process;
reported and never failing the run.

A warehouse with PagerDuty's raw tables (the only source enabled) whose rows were last written 40 h and 80 h
before the check: past the source's warn_after (36 h) and error_after (72 h). The step records one row per
table in meta.source_freshness, replaces them on a rerun of the date, and raises for neither; the build in the
same step publishes them as marts.pipeline_source_freshness_daily.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from opskpi import pipeline

RUN_DATE = date(2026, 11, 19)


@pytest.fixture
def config(make_config, tmp_path):
    return make_config(data_dir=str(tmp_path / "data"), sources={
        "pagerduty": {"base_url": "http://127.0.0.1:1/pagerduty", "token_env": "TEST_PD_TOKEN"}})


@pytest.mark.slow
@pytest.mark.long  # three dbt processes: make test-long (run by CI) keeps `make test` within 15 minutes
def test_freshness_warns_and_errors_without_failing_and_is_replaced_on_rerun(config):
    ctx = pipeline.RunContext.for_date(config, RUN_DATE, run_id="run-1")
    pipeline.load(config, ctx)  # creates meta and every raw table, empty
    with duckdb.connect(str(config.warehouse_path)) as con:
        con.execute("INSERT INTO raw.pagerduty__incidents (id, _loaded_at) VALUES ('Q1', now() - INTERVAL 40 HOUR)")
        con.execute("INSERT INTO raw.pagerduty__services (id, _loaded_at) VALUES ('P1', now() - INTERVAL 80 HOUR)")

    result = pipeline.transform(config, ctx, tests=False, docs=False)  # rows too bare for dbt's tests

    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        rows = con.execute("SELECT run_id, source, source_table, status, round(age_s / 3600), warn_after_s, "
                           "error_after_s FROM meta.source_freshness ORDER BY source_table").fetchall()
        published = con.execute("SELECT run_id, source_table, status FROM marts.pipeline_source_freshness_daily "
                                "WHERE source_table IN ('incidents', 'services') ORDER BY 2").fetchall()
    statuses = {r[2]: r[3] for r in rows}
    assert statuses["incidents"] == "warn" and statuses["services"] == "error"
    assert {r[1] for r in rows} == {"pagerduty"}, "only the enabled source is checked"
    incidents = next(r for r in rows if r[2] == "incidents")
    assert incidents == ("run-1", "pagerduty", "incidents", "warn", 40, 36 * 3600, 72 * 3600)
    assert result["freshness"]["warn"] >= 1 and result["freshness"]["error"] >= 1
    assert published == [("run-1", "incidents", "warn"), ("run-1", "services", "error")]

    # a rerun of the date replaces its rows; another date keeps its own
    with duckdb.connect(str(config.warehouse_path)) as con:
        con.execute("UPDATE raw.pagerduty__services SET _loaded_at = now()")
    pipeline.transform(config, pipeline.RunContext.for_date(config, RUN_DATE, run_id="run-2"), tests=False, docs=False)
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        again = con.execute("SELECT run_id, source_table, status FROM meta.source_freshness "
                            "WHERE source_table IN ('incidents', 'services') ORDER BY 2").fetchall()
        published = con.execute("SELECT run_id, source_table, status FROM marts.pipeline_source_freshness_daily "
                                "WHERE source_table IN ('incidents', 'services') ORDER BY 2").fetchall()
    assert again == [("run-2", "incidents", "warn"), ("run-2", "services", "pass")]
    assert published == again, "the freshness mart is rebuilt with the new rows"

    # With dbt's tests the build fails on the bare rows: the failure names the failing test, and none of the
    # freshness check's ERROR STALE lines (services is past error_after again) are reported as the build's.
    with duckdb.connect(str(config.warehouse_path)) as con:
        con.execute("UPDATE raw.pagerduty__services SET _loaded_at = now() - INTERVAL 80 HOUR")
    with pytest.raises(RuntimeError, match="dbt build failed") as failed:
        pipeline.transform(config, pipeline.RunContext.for_date(config, RUN_DATE, run_id="run-3"), docs=False)
    assert "row_rules_stg_pagerduty__incidents" in str(failed.value)
    assert "freshness of" not in str(failed.value), str(failed.value)
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT run_id, status FROM meta.source_freshness WHERE source_table = 'services'"
                           ).fetchall() == [("run-3", "error")], "recorded before the build, which then failed"
