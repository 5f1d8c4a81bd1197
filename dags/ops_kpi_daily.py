"""ops_kpi_daily: extract → validate → load → dbt build → publish, once per reporting day.

Wiring only: every task calls a function in `opskpi.pipeline`, imported inside the task so parsing
this file stays cheap and never opens the warehouse. Extracts run in parallel (they only write
landing files), limited by one pool per API; everything that writes the warehouse shares the
1-slot `duckdb_writer` pool.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

SOURCES = ("jira", "pagerduty", "github")
DEFAULT_CONFIG = os.environ.get("OPSKPI_CONFIG", "config/demo.yml")


def _run(step: str, source: str | None = None):
    """Build the config and run context from this DAG run, then call one pipeline step."""
    from opskpi import pipeline
    from opskpi.config import load_config

    context = get_current_context()
    params = context["params"]
    config = load_config(params["config"])
    if source is not None and (source not in config.enabled_sources() or
                               (params.get("sources") and source not in params["sources"])):
        from airflow.exceptions import AirflowSkipException

        raise AirflowSkipException(f"source {source} is not enabled for this run")
    interval_start = context.get("data_interval_start") or context["logical_date"]
    run_date = (pendulum.parse(params["run_date"]).date() if params.get("run_date")
                else interval_start.in_timezone(config.reporting.timezone).date())
    ctx = pipeline.RunContext.for_date(config, run_date, run_id=context["run_id"],
                                       full_refresh=bool(params.get("full_refresh")))
    step_fn = getattr(pipeline, step)
    return step_fn(config, source, ctx) if source is not None else step_fn(config, ctx)


@dag(
    dag_id="ops_kpi_daily",
    # A data-interval timetable: each run covers one explicit day (Airflow 3's plain cron has no interval).
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    params={
        "config": Param(DEFAULT_CONFIG, type="string", description="Path of the opskpi YAML config"),
        "run_date": Param(None, type=["null", "string"], description="Reporting day YYYY-MM-DD (default: interval)"),
        "full_refresh": Param(False, type="boolean", description="Ignore watermarks and re-read the history"),
        "sources": Param([], type="array", description="Limit to these sources (default: all enabled)"),
    },
    tags=["opskpi"],
)
def ops_kpi_daily():
    validated = []
    for source in SOURCES:
        @task(task_id=f"extract_{source}", pool=f"{source}_api")
        def extract(source=source):
            return _run("extract", source)

        @task(task_id=f"validate_{source}", retries=0)
        def validate(source=source):
            return _run("validate", source)

        extracted = extract()
        check = validate()
        extracted >> check
        validated.append(check)

    @task(pool="duckdb_writer", trigger_rule="none_failed")
    def load():
        return _run("load")

    @task(pool="duckdb_writer", retries=0)
    def dbt_build():
        return _run("transform")

    @task(pool="duckdb_writer")
    def publish():
        return _run("publish")

    @task
    def done():
        return "ok"

    validated >> load() >> dbt_build() >> publish() >> done()


ops_kpi_daily()
