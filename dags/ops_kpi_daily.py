"""ops_kpi_daily: extract → validate → load → dbt (source freshness, build) → publish → report, once per day.

Wiring only: every task calls a function in `opskpi.pipeline`, imported inside the task so parsing
this file stays cheap and never opens the warehouse. Per source, extract tasks are mapped over the
source's partitions (repositories, projects) and run in parallel under that API's pool; they only
write landing files. Everything that touches the warehouse shares the 1-slot `duckdb_writer` pool.

Celery queues come from the config's `queues:` (read once, when this file is parsed): the source groups
(partitions, extract, validate) go to `queues.extract`, which any worker that reaches the APIs and the landing
store may serve; load, dbt build, publish, report and done go to `queues.warehouse`, served only on the host
that holds the DuckDB file and the data volume (docs/deploy.md). Unset: Airflow's default queue.

dbt runs as one `dbt build` task rather than one Airflow task per model (astronomer-cosmos): DuckDB
has a single writer, so per-model tasks would have to run one at a time anyway, each paying a new
process and dbt start-up (~4 s), while one `dbt build` uses dbt's own threads in one process and
stops at the first failing test before anything is published.

What the Airflow UI shows comes from here: the docs below (DAG and task docs), owners, mapped extract
tasks named by their partition (`acme/api`, `OPS`), and the assets each step produces (with rows,
batches and the run date) or consumes.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import (
    Asset,
    AsyncCallback,
    CronDataIntervalTimetable,
    DeadlineAlert,
    DeadlineReference,
    Param,
    dag,
    get_current_context,
    task,
    task_group,
)
from opskpi_notifiers import deadline_missed, notify_failure

from opskpi.config import read_queues

SOURCES = ("jira", "pagerduty", "github")
DEFAULT_CONFIG = os.environ.get("OPSKPI_CONFIG", "config/demo.yml")
# Cron of the nightly run, in UTC; "none" leaves the DAG to manual and API triggers only.
SCHEDULE_CRON = os.environ.get("OPSKPI_SCHEDULE", "0 0 * * *")
# Who answers for the pipeline, shown as every task's owner in the UI.
OWNER = os.environ.get("OPSKPI_OWNER", "ops-analytics")
# The deployment's queues (config `queues:`): a task's queue is part of the parsed DAG, not of a run.
QUEUES = read_queues(DEFAULT_CONFIG)
RAW_ASSETS = {s: Asset(name=f"opskpi.raw.{s}", uri=f"opskpi://warehouse/raw/{s}") for s in SOURCES}
MARTS_ASSET = Asset(name="opskpi.published.marts", uri="opskpi://published/marts")
# Opt-in: a deadline alert for a late nightly run (set by deployments; `dag.test()` in Airflow 3.3.2 cannot
# resolve deadline alerts of a DAG it did not serialize itself, so `opskpi run` leaves it unset).
DEADLINE_MINUTES = os.environ.get("OPSKPI_DEADLINE_MINUTES")
DEADLINE = (DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT,
                          interval=timedelta(minutes=float(DEADLINE_MINUTES)),
                          callback=AsyncCallback(deadline_missed)) if DEADLINE_MINUTES else None)

RERUN = ("Rerun: clear this task (and its downstream) in the UI, or run the day again with "
         "`opskpi run --config <config> --date <YYYY-MM-DD>`; every step is idempotent.")
DAG_DOC = f"""
### opskpi: the nightly operational KPI warehouse

One run covers one reporting day (its data interval, or the `run_date` param):

1. **`<source>.partitions`** lists what each source is split into (GitHub repositories, Jira projects).
2. **`<source>.extract`** (one task per partition, named after it; at most `sources.<name>.extract_tasks`,
   16 by default, partitions then share tasks) reads the API from the stream's
   watermark and writes an immutable landing batch: `data/landing/<source>/<stream>/<batch>/`.
3. **`<source>.validate`** checks each new batch with Great Expectations; a critical failure moves it to
   `data/quarantine/` and fails the run before anything reaches the warehouse.
4. **`load`** merges validated batches into `raw.<source>__<stream>` of `data/warehouse.duckdb` and advances
   the watermarks in the same transaction (asset `opskpi.raw.<source>`: rows, batches, run date).
5. **`dbt_build`** checks the raw tables' freshness (`dbt source freshness`: warn or error is reported, never
   fatal), then builds and tests the marts (`dbt build`), in one dbt process; a failing test stops the run
   unpublished.
6. **`publish`** swaps a new `data/published/opskpi.duckdb` (+ Parquet, dbt docs) in atomically (asset
   `opskpi.published.marts`).
7. **`report`** writes `data/published/report/<date>/index.html`, `summary.md`, `kpis.json` and sends them
   where `report:` in the config says.

Failed runs are posted to the connections `opskpi_slack`, `opskpi_smtp`, `opskpi_webhook` (those that
exist). {RERUN} A whole range: `airflow backfill create --dag-id ops_kpi_daily --from-date … --to-date …
--max-active-runs 1`. Params: `config` (YAML path), `run_date`, `full_refresh`, `sources`.
"""


PARAMS = {
    "config": Param(DEFAULT_CONFIG, type="string", description="Path of the opskpi YAML config"),
    "run_date": Param(None, type=["null", "string"], description="Reporting day YYYY-MM-DD (default: interval)"),
    "full_refresh": Param(False, type="boolean", description="Ignore watermarks and re-read the history"),
    "sources": Param([], type="array", description="Limit to these sources (default: all enabled)"),
}


def on_queue(role: str) -> dict[str, str]:
    """`queue=` for a task of this role ("extract" or "warehouse") when the config names its queue; nothing (Airflow's
    default queue) otherwise. Every task takes one of the two, so workers serving only the named queues run all."""
    name = getattr(QUEUES, role)
    return {"queue": name} if name else {}


def store_credentials(config) -> None:
    """`landing.airflow_conn_id`: the object store's credentials from that Airflow connection (login: access key id,
    password: secret key, extra `aws_session_token`), handed to botocore in this task's process only. Airflow masks
    a connection's password in task logs; the pipeline redacts it from its errors (extractors/landing_store.py)."""
    conn_id = config.landing.airflow_conn_id
    if not conn_id:
        return
    from airflow.sdk import Connection

    from extractors.landing_store import export_credentials

    conn = Connection.get(conn_id)
    export_credentials(conn.login, conn.password, conn.extra_dejson.get("aws_session_token"))


def _run(step: str, source: str | None = None, **kwargs):
    """Build the config and run context from this DAG run, then call one pipeline step."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

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
    store_credentials(config)
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
        return pipeline.extract_tasks(config, source)
    if "partition" in kwargs:  # the mapped task's name in the UI: its repository or project, else the source
        context["partition_label"] = pipeline.partition_label(source, kwargs["partition"])
    step_fn = getattr(pipeline, step)
    partition = kwargs.get("partition")  # one id, or a task's several (sources.<name>.extract_tasks)
    with step_logging(config.run_logs_dir, ctx.run_id, step, source=source,
                      partition=partition if partition is None or isinstance(partition, str) else ", ".join(partition)):
        result = step_fn(config, source, ctx, **kwargs) if source is not None else step_fn(config, ctx, **kwargs)
    context["run_date"] = run_date.isoformat()  # for the asset metadata below
    return result


def extract_or_reschedule(source: str, partition: str | list[str]):
    """One task's extract: a partition, or several read together (`sources.<name>.extract_tasks`). A spent hourly
    quota that resets later than the source's `release_slot_after` (GitHub, default 5 minutes) gives the worker slot
    back: the task is rescheduled for the reset (it waits as
    `up_for_reschedule`, in no pool slot, not as a retry) and then resumes from its checkpoint, the streams it had
    already landed (opskpi.pipeline.extract), so one repository's quota wait never blocks the other sources."""
    from extractors.http import QuotaRelease

    try:
        return _run("extract", source, partition=partition, release_slot=True)
    except QuotaRelease as exc:
        from airflow.sdk.exceptions import AirflowRescheduleException

        raise AirflowRescheduleException(pendulum.from_timestamp(exc.resume_at, tz="UTC")) from None


def _describe_assets(step_result: dict, by_source: dict[str, Asset]) -> None:
    """Asset event metadata of `load`: per source, the rows changed and batches merged, and the run date."""
    context = get_current_context()
    for source, asset in by_source.items():
        mine = [r for r in step_result.values() if str(r.get("table", "")).startswith(f"{source}__")]
        context["outlet_events"][asset].extra = {
            "run_date": context.get("run_date"), "batches": len(mine),
            "rows_landed": sum(r["rows_landed"] for r in mine), "rows_changed": sum(r["rows_changed"] for r in mine)}


def source_group(source: str):
    @task_group(group_id=source, tooltip=f"extract, then validate, everything {source} serves")
    def group():
        @task(task_id="partitions", **on_queue("extract"), doc_md=f"""
Lists the {source} partitions this run extracts (from the config: GitHub repositories, Jira projects;
`""` for the streams read source-wide) in the groups `extract` is mapped over: one partition a task, or several
once there are more than `sources.{source}.extract_tasks`. Writes nothing. {RERUN}""")
        def list_partitions():
            return _run("partitions", source)

        @task(task_id="extract", pool=f"{source}_api", map_index_template="{{ partition_label }}",
              **on_queue("extract"), doc_md=f"""
Reads the {source} API for its partitions (this task's name: a repository or project, the source for its
source-wide streams, or the first and how many more)
from each stream's watermark minus its lookback, and writes an immutable landing batch to
`data/landing/{source}/<stream>/<batch>/` (Parquet parts + `_manifest.json`). Touches no warehouse.
A quota wait longer than `sources.{source}.release_slot_after` reschedules the task (its pool slot is freed
until the reset) and it resumes from the streams it had landed.
Progress lines go to the task log and `data/logs/runs/<run id>.jsonl`. {RERUN}""")
        def extract(partition: list[str]):
            return extract_or_reschedule(source, partition)

        @task(task_id="validate", retries=0, **on_queue("extract"), doc_md=f"""
Validates every new {source} landing batch with its Great Expectations suite (`expectations/suites/`),
writing `_validation.json` beside it. A critical failure moves the batch to `data/quarantine/` and fails
the run before `load` (not retried: the data would fail again). Replay after a fix:
`opskpi replay` (docs/operations.md). {RERUN}""")
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
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    on_failure_callback=notify_failure,
    deadline=DEADLINE,
    doc_md=DAG_DOC,
    params=PARAMS,
    tags=["opskpi"],
)
def ops_kpi_daily():
    validated = [source_group(source) for source in SOURCES]

    @task(pool="duckdb_writer", trigger_rule="none_failed", outlets=list(RAW_ASSETS.values()), **on_queue("warehouse"),
          doc_md=f"""
Merges every validated landing batch into `raw.<source>__<stream>` of `data/warehouse.duckdb` (newest
version per primary key) and advances the watermarks in the same transaction; writes the config tables.
Emits the assets `opskpi.raw.<source>` with the batches merged, rows landed and changed, and the run date.
A killed load is rerun from the same landing files with the same result. {RERUN}""")
    def load():
        result = _run("load")
        _describe_assets(result, RAW_ASSETS)
        return result

    @task(pool="duckdb_writer", retries=0, inlets=list(RAW_ASSETS.values()), **on_queue("warehouse"), doc_md=f"""
`dbt source freshness` over the enabled sources' raw tables, then `dbt build` of `dbt_project/` on the
warehouse (staging → intermediate → marts, with every dbt test), in one dbt process, then the static dbt docs
page. A source past its freshness thresholds is recorded in `meta.source_freshness` and shown in the report's
data-health section, never failing the run (a quiet source is not a broken one). A failing model or test fails
the run and nothing is published (not retried: it would fail again). dbt's log: `data/dbt/logs/`. {RERUN}""")
    def dbt_build():
        return _run("transform")

    @task(pool="duckdb_writer", outlets=[MARTS_ASSET], **on_queue("warehouse"), doc_md=f"""
Copies the marts into a new `data/published/opskpi.duckdb` (+ `parquet/`, `docs/`) and swaps it in
atomically: BI tools never see half a publish. Emits the asset `opskpi.published.marts` with the tables
and their rows. {RERUN}""")
    def publish():
        result = _run("publish")
        context = get_current_context()
        context["outlet_events"][MARTS_ASSET].extra = {
            "run_date": context.get("run_date"), "tables": len(result.get("tables", {})),
            "rows": sum(result.get("tables", {}).values())}
        return result

    @task(inlets=[MARTS_ASSET], **on_queue("warehouse"), doc_md=f"""
Writes the day's report from the published marts: `data/published/report/<date>/index.html`,
`summary.md`, `kpis.json` (and `latest/`), then delivers it by webhook / e-mail if `report:` says so
(each channel once per run, also across retries). {RERUN}""")
    def report():
        return _run("report")

    @task(**on_queue("warehouse"), doc_md="Marks the run complete once the report is written.")
    def done():
        return "ok"

    validated >> load() >> dbt_build() >> publish() >> report() >> done()


ops_kpi_daily()
