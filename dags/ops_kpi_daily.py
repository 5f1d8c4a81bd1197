"""ops_kpi_daily: extract → validate → load → dbt build → publish → report, once per reporting day.

Wiring only: every task calls a function in `opskpi.pipeline`, imported inside the task so parsing
this file stays cheap and never opens the warehouse. Per source, extract tasks are mapped over the
source's partitions (repositories, projects) and run in parallel under that API's pool; they only
write landing files. Everything that touches the warehouse shares the 1-slot `duckdb_writer` pool.

dbt runs as one `dbt build` task rather than one Airflow task per model (astronomer-cosmos): DuckDB
has a single writer, so per-model tasks would have to run one at a time anyway, each paying a new
process and dbt start-up (~4 s), while one `dbt build` uses dbt's own threads in one process and
stops at the first failing test before anything is published.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Asset, Param, dag, get_current_context, task, task_group
from airflow.sdk.definitions.deadline import AsyncCallback, DeadlineAlert, DeadlineReference
from airflow.timetables.interval import CronDataIntervalTimetable
from opskpi_notifiers import deadline_missed, notify_failure

SOURCES = ("jira", "pagerduty", "github")
DEFAULT_CONFIG = os.environ.get("OPSKPI_CONFIG", "config/demo.yml")
# Cron of the nightly run, in UTC; "none" leaves the DAG to manual and API triggers only.
SCHEDULE_CRON = os.environ.get("OPSKPI_SCHEDULE", "0 0 * * *")
RAW_ASSETS = {s: Asset(name=f"opskpi.raw.{s}", uri=f"opskpi://warehouse/raw/{s}") for s in SOURCES}
MARTS_ASSET = Asset(name="opskpi.published.marts", uri="opskpi://published/marts")
# Opt-in: a deadline alert for a late nightly run (set by deployments; `dag.test()` in Airflow 3.3.2 cannot
# resolve deadline alerts of a DAG it did not serialize itself, so `opskpi run` leaves it unset).
DEADLINE_MINUTES = os.environ.get("OPSKPI_DEADLINE_MINUTES")
DEADLINE = (DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT,
                          interval=timedelta(minutes=float(DEADLINE_MINUTES)),
                          callback=AsyncCallback(deadline_missed)) if DEADLINE_MINUTES else None)


def _run(step: str, source: str | None = None, **kwargs):
    """Build the config and run context from this DAG run, then call one pipeline step."""
    from airflow.exceptions import AirflowFailException, AirflowSkipException

    context = get_current_context()
    params = context["params"]
    # A source the run leaves out skips before the pipeline is imported or the config read: a backfill
    # restricted to one source pays as little as possible for the other sources' tasks, once per day.
    if source is not None and params.get("sources") and source not in params["sources"]:
        raise AirflowSkipException(f"source {source} is not selected for this run (sources={params['sources']})")

    from opskpi import pipeline
    from opskpi.config import ConfigError, load_config
    from opskpi.runlog import step_logging

    try:
        config = load_config(params["config"])
    except ConfigError as exc:
        raise AirflowFailException(f"configuration error: {exc}") from None  # retrying cannot fix it
    if source is not None and source not in config.enabled_sources():
        raise AirflowSkipException(f"source {source} is not enabled in {params['config']}")
    if params.get("run_date"):
        run_date = pendulum.parse(params["run_date"]).date()
    else:
        # Scheduled runs cover their data interval; a manual run without one covers the day it was asked for.
        moment = (context.get("data_interval_start") or context.get("logical_date")
                  or context["dag_run"].run_after)
        run_date = pendulum.instance(moment).in_timezone(config.reporting.timezone).date()
    ctx = pipeline.RunContext.for_date(config, run_date, run_id=context["run_id"],
                                       full_refresh=bool(params.get("full_refresh")))
    if step == "partitions":
        return pipeline.partitions(config, source)
    step_fn = getattr(pipeline, step)
    with step_logging(config.run_logs_dir, ctx.run_id, step, source=source, partition=kwargs.get("partition")):
        return step_fn(config, source, ctx, **kwargs) if source is not None else step_fn(config, ctx, **kwargs)


def source_group(source: str):
    @task_group(group_id=source)
    def group():
        @task(task_id="partitions")
        def list_partitions():
            return _run("partitions", source)

        @task(task_id="extract", pool=f"{source}_api")
        def extract(partition: str):
            return _run("extract", source, partition=partition)

        @task(task_id="validate", retries=0)
        def validate():
            return _run("validate", source)

        extract.expand(partition=list_partitions()) >> validate()

    return group()


@dag(
    dag_id="ops_kpi_daily",
    # A data-interval timetable: each run covers one explicit day (Airflow 3's plain cron has none).
    schedule=None if SCHEDULE_CRON == "none" else CronDataIntervalTimetable(SCHEDULE_CRON, timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    on_failure_callback=notify_failure,
    deadline=DEADLINE,
    params={
        "config": Param(DEFAULT_CONFIG, type="string", description="Path of the opskpi YAML config"),
        "run_date": Param(None, type=["null", "string"], description="Reporting day YYYY-MM-DD (default: interval)"),
        "full_refresh": Param(False, type="boolean", description="Ignore watermarks and re-read the history"),
        "sources": Param([], type="array", description="Limit to these sources (default: all enabled)"),
    },
    tags=["opskpi"],
)
def ops_kpi_daily():
    validated = [source_group(source) for source in SOURCES]

    @task(pool="duckdb_writer", trigger_rule="none_failed", outlets=list(RAW_ASSETS.values()))
    def load():
        return _run("load")

    @task(pool="duckdb_writer")
    def source_freshness():
        return _run("source_freshness")

    @task(pool="duckdb_writer", retries=0)
    def dbt_build():
        return _run("transform")

    @task(pool="duckdb_writer", outlets=[MARTS_ASSET])
    def publish():
        return _run("publish")

    @task
    def report():
        return _run("report")

    @task
    def done():
        return "ok"

    validated >> load() >> source_freshness() >> dbt_build() >> publish() >> report() >> done()


ops_kpi_daily()
