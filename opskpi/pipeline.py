"""The steps of one daily run, as plain functions: the Airflow DAG only wires them together.

Each step is idempotent and can be rerun on its own: extract lands a new immutable batch, validate
checks batches that have no verdict yet, load applies validated batches not loaded yet, transform
rebuilds the marts, publish swaps in a new published set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from extractors import landing_store
from extractors.crashpoints import crashpoint
from extractors.engine import extract_streams
from extractors.http import QuotaRelease
from extractors.landing import complete_batches, read_manifest, sweep_partials, write_json_atomic
from extractors.landing_store import StorePath
from extractors.sources import build_source
from extractors.streams import Window, families, parse_timestamp
from opskpi import dbt_process, dbt_session, postgres_warehouse
from opskpi.config import Config, parse_duration
from opskpi.load import (
    VALIDATION_FILE,
    ensure_meta,
    ensure_raw_table,
    load_pending,
    loaded_batch_ids,
    read_child_versions,
    read_etags,
    stream_watermarks,
)
from opskpi.publish import publish as publish_marts
from opskpi.revisit import revisit_windows
from opskpi.warehouse import Warehouse

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The dbt project a run builds; OPSKPI_DBT_PROJECT points a benchmark at a frozen copy of it.
DBT_PROJECT = Path(os.environ.get("OPSKPI_DBT_PROJECT") or PROJECT_ROOT / "dbt_project")
SOURCES = ("jira", "pagerduty", "github")


class GuardFailure(RuntimeError):
    """A landed batch failed a critical expectation and was quarantined."""


@dataclass(frozen=True)
class RunContext:
    """What one run covers: the reporting day, the instant data is judged at, and an id for lineage."""

    run_date: date
    as_of: datetime
    run_id: str
    full_refresh: bool = False

    @classmethod
    def for_date(cls, config: Config, run_date: date, run_id: str, now: datetime | None = None,
                 full_refresh: bool = False) -> RunContext:
        tz = ZoneInfo(config.reporting.timezone)
        end_of_day = datetime.combine(run_date + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        now = (now or datetime.now(UTC)).astimezone(UTC)
        return cls(run_date=run_date, as_of=min(end_of_day, now), run_id=run_id, full_refresh=full_refresh)

    def dbt_vars(self, config: Config) -> dict[str, Any]:
        """The config's settings as dbt vars. The same every night: a changed var makes dbt parse the whole project
        again (no partial parsing), so the run's own values go by environment variable (dbt_run_env)."""
        return {
            "reporting_timezone": config.reporting.timezone,
            "fiscal_year_start_month": config.calendar.fiscal_year_start_month,
            "business_days": config.calendar.business_days,
            "default_slo_target_pct": config.availability.default_slo_target_pct,
            "downtime_urgencies": config.availability.downtime_urgencies,
            "downtime_priorities": config.availability.downtime_priorities,
            "jira_incident_issue_types": config.incidents.jira_issue_types,
            "dora_production_environments": config.dora.production_environments,
            "dora_attribution_window_s": parse_duration(config.dora.attribution_window, "dora.attribution_window"),
            "dora_max_deploy_lag_s": parse_duration(config.dora.max_deploy_lag, "dora.max_deploy_lag"),
            "dora_hotfix_labels": config.dora.hotfix_labels,
            "dora_failure_pull_request_branches": config.dora.failure_pull_request_branches,
            "dora_benchmark_year": config.dora.benchmark_year,
            "dora_deploy_workflows": config.dora.deploy_workflows,
            "security_sla_days": config.security.sla_days,
            "security_patch_clock": config.security.patch_clock,
            "security_day_end": config.security.day_end,
            "jira_bug_issue_types": config.jira_flow.bug_issue_types,
            "business_impact_currency": config.business_impact.currency,
            "security_incident_service_ids": config.security_incidents.service_ids,
            "security_incident_types": config.security_incidents.incident_types,
            "security_incident_priorities": config.security_incidents.priorities,
            "security_incident_title_pattern": config.security_incidents.title_pattern,
            "security_incident_jira_issue_types": config.security_incidents.jira_issue_types,
            "detection_impact_start_paths": config.detection.impact_start_paths,
            "detection_max_clock_skew_s": parse_duration(config.detection.max_clock_skew, "detection.max_clock_skew"),
            "maturity_rubric_version": config.maturity.rubric_version,
            "maturity_attestations": config.maturity.dbt_attestations(),
            "jira_projects": jira.projects if (jira := config.sources.get("jira")) is not None else [],
            "lead_time_e2e_excluded_resolutions": config.lead_time_e2e.excluded_resolutions,
            "lead_time_e2e_excluded_issue_types": config.lead_time_e2e.excluded_issue_types,
            "lead_time_e2e_late_link_grace_s": parse_duration(config.lead_time_e2e.late_link_grace,
                                                              "lead_time_e2e.late_link_grace"),
            "lead_time_e2e_release_projects": config.lead_time_e2e.release_projects,
        }

    def dbt_run_env(self) -> dict[str, str]:
        """The run's date, as-of and id for dbt (dbt_project/macros/run_parameters.sql reads them while executing)."""
        return {"OPSKPI_RUN_DATE": self.run_date.isoformat(), "OPSKPI_AS_OF": self.as_of.isoformat(),
                "OPSKPI_RUN_ID": self.run_id}


def _warehouse(config: Config) -> Warehouse:
    return Warehouse(config.warehouse_path)


# Streams whose first read reaches further back than history_days, by a configured duration: the pull requests
# and deployments a DORA day needs, so that a deployment on the first day of the history has every pull request
# it may ship (merged up to dora.max_deploy_lag before it) and every earlier deployment that may have shipped them
# already (dbt's DORA grid starts that much after these streams' own start: macros/history_window.sql).
# (source, stream) -> the config key of the duration.
EXTRA_HISTORY: dict[tuple[str, str], str] = {
    ("github", "pulls"): "dora.max_deploy_lag",
    ("github", "deployments"): "dora.max_deploy_lag",
    ("github", "workflow_runs"): "dora.max_deploy_lag",
}


def history_start(config: Config, source: str, stream_name: str, ctx: RunContext) -> datetime:
    """Where a first read (or a full refresh) of the stream starts: history_days before as_of, plus EXTRA_HISTORY."""
    key = EXTRA_HISTORY.get((source, stream_name))
    reach = timedelta(seconds=parse_duration(attrgetter(key)(config), key)) if key else timedelta(0)
    return ctx.as_of - timedelta(days=config.history_days) - reach


def stream_windows(config: Config, source: str, stream, watermarks: dict[str, str], ctx: RunContext) -> dict:
    """Per partition: from the watermark minus the lookback (or the history start) to the run's as-of.

    The lookback is the source's, unless the stream declares its own (append-only streams need only a margin)."""
    lookback = stream.lookback if stream.lookback is not None else timedelta(seconds=config.lookback_seconds(source))
    history_start_at = history_start(config, source, stream.name, ctx)
    windows = {}
    for partition in stream.partitions:
        mark = None if ctx.full_refresh else watermarks.get(partition.id)
        if mark is None:
            windows[partition.id] = Window(start=history_start_at, end=ctx.as_of)
        else:
            # A backfill of an earlier day still re-reads the margin before its own end.
            start = min(parse_timestamp(mark) - lookback, ctx.as_of - lookback)
            windows[partition.id] = Window(start=start, end=ctx.as_of, resumed=True)
    return windows


def extract_inputs(config: Config, source_name: str, streams: list, ctx: RunContext) -> dict[str, Any]:
    """What an extract reads from the warehouse before its first request: windows (from watermarks, with the ids
    `revisit` streams read again), stored ETags and, for child streams that declare `parent_version`, the parent
    versions already loaded (none on a full refresh, which re-reads every child)."""
    with _warehouse(config).connect(read_only=True) as con:
        marks = {s.name: stream_watermarks(con, s) for s in streams}
        etags = {s.name: read_etags(con, source_name, s.name) for s in streams if s.conditional}
        versions = {} if ctx.full_refresh else {
            s.name: read_child_versions(con, source_name, s.name, [p.id for p in s.partitions])
            for s in streams if s.parent_version}
        windows = {s.name: stream_windows(config, source_name, s, marks[s.name], ctx) for s in streams}
        # Loaded records that streams declaring `revisit` read again (older deployments' statuses): opskpi/revisit.py
        windows = revisit_windows(con, source_name, streams, windows, timestamp_bounds(config, ctx)[0])
    return {"windows": windows, "etags": etags, "child_versions": versions}


def partitions(config: Config, source_name: str) -> list[str]:
    """Partition ids of a source (repositories, projects…): the unit Airflow maps extract tasks over."""
    source = build_source(source_name, config.source_settings(source_name, with_secret=False))
    ids = {p.id for s in source.streams if s.parent is None for p in s.partitions}
    return sorted(ids)


def extract_tasks(config: Config, source_name: str) -> list[list[str]]:
    """The source's partitions as Airflow maps its extract tasks over them: at most `sources.<name>.extract_tasks`
    tasks, the source-wide streams (`""`) in a task of their own, the named partitions one per task while they fit
    and dealt round-robin over the remaining tasks when they do not. A task's partitions keep their watermarks, so
    a partition moving to another task (one added or removed) reads on from where it was."""
    ids = partitions(config, source_name)
    named = [p for p in ids if p]
    groups = [[""]] if "" in ids else []
    slots = max(config.sources[source_name].extract_tasks - len(groups), 1)
    if len(named) <= slots:
        return groups + [[p] for p in named]
    return groups + [named[i::slots] for i in range(slots)]


def partition_label(source_name: str, partition: str | Sequence[str]) -> str:
    """An extract task's name in the UI and logs: its repository or project, the source for its source-wide streams,
    the first and how many more for a task of several."""
    names = [partition] if isinstance(partition, str) else list(partition)
    names = [n or source_name for n in names]
    return names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"


def _only(stream, wanted: set[str]):
    """The stream restricted to the wanted partitions; unpartitioned streams ("") run in the "" task."""
    kept = tuple(p for p in stream.partitions if p.id in wanted)
    return dataclasses.replace(stream, partitions=kept) if kept else None


def checkpoint_path(config: Config, source_name: str, ctx: RunContext,
                    partition: str | Sequence[str] | None) -> Path:
    """Where an extract that gave its slot back for a quota reset notes the streams it finished (per run and
    partition, or partitions: one mapped Airflow task)."""
    if partition is not None and not isinstance(partition, str):
        partition = list(partition)  # one partition is named by it, a task of several by a digest of them
        partition = partition[0] if len(partition) == 1 else (
            "group-" + hashlib.sha256(json.dumps(sorted(partition)).encode()).hexdigest()[:16])
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{ctx.run_id}__{source_name}__{partition or '_all'}")
    return config.data_dir / "checkpoints" / f"{name}.json"


def _resumable(streams: list, checkpoint: Path, landing_dir: StorePath, source_name: str) -> dict[str, str]:
    """Streams a released extract finished (stream -> batch), kept only while their batch is still landed, and by
    whole families: a child is read from its parent's records of the same call, so a parent is skipped only with all
    its children, and a child only with its parent."""
    if not checkpoint.exists():
        return {}
    done = json.loads(checkpoint.read_text()).get("completed", {})
    done = {n: b for n, b in done.items() if (landing_dir / source_name / n / b).is_dir()}
    return {s.name: done[s.name] for family in families(streams) if all(m.name in done for m in family)
            for s in family}


@landing_store.redacted_errors()
def extract(config: Config, source_name: str, ctx: RunContext, partition: str | Sequence[str] | None = None,
            release_slot: bool = False) -> dict[str, Any]:
    """Read every stream of a source (or one partition, or several, for a mapped task) into new landing batches.

    `release_slot` (the Airflow task): a quota wait longer than the source's `release_slot_after` raises
    QuotaRelease instead of sleeping, after noting the streams already landed in a checkpoint; the task is
    rescheduled for the reset and this call, run again for the same run and partition, skips those streams and
    reads the rest (the interrupted stream from its start: its partial batch was discarded). The checkpoint is
    removed once the extract completes, so clearing the task later re-reads everything."""
    settings = config.source_settings(source_name)
    if release_slot and settings.get("release_slot_after_s") is not None:
        settings = {**settings, "release_after_s": settings["release_slot_after_s"]}
    source = build_source(source_name, settings)
    streams = list(source.streams)
    parts = None if partition is None else [partition] if isinstance(partition, str) else list(partition)
    if parts is not None:
        streams = [s for s in (_only(s, set(parts)) for s in streams) if s is not None]
    checkpoint = checkpoint_path(config, source_name, ctx, parts)
    partition = None if parts in (None, [""]) else partition_label(source_name, parts)  # as the logs name it
    resumed = _resumable(streams, checkpoint, config.landing_dir, source_name)
    if resumed:
        log.info("resuming %s%s after a quota release: %s already landed", source_name,
                 f"[{partition}]" if partition else "", ", ".join(sorted(resumed)))
        streams = [s for s in streams if s.name not in resumed]
    inputs = extract_inputs(config, source_name, streams, ctx)
    sweep_partials(config.landing_dir)  # unfinished batches of crashed runs
    try:
        results = extract_streams(source.client(), streams, inputs["windows"], config.landing_dir,
                                  etags=inputs["etags"], child_versions=inputs["child_versions"], run_id=ctx.run_id,
                                  progress=log_progress,
                                  max_pages=config.sources[source_name].max_pages)
    except QuotaRelease as exc:
        done = {**resumed, **{r.stream.split("__", 1)[1]: r.batch_dir.name for r in exc.completed}}
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(checkpoint, {"run_id": ctx.run_id, "source": source_name, "partition": parts,
                                       "completed": done, "resume_at": exc.resume_at})
        log.warning("%s", exc)
        raise
    checkpoint.unlink(missing_ok=True)
    summary = {}
    for name, batch in resumed.items():  # landed by an earlier try of this task, before it gave its slot back
        manifest = read_manifest(config.landing_dir / source_name / name / batch)
        summary[f"{source_name}__{name}"] = {"rows": manifest.get("rows", 0), "pages": manifest.get("pages", 0),
                                             "requests": manifest.get("requests", 0), "batch": batch,
                                             "resumed": True}
    for result in results:
        summary[result.stream] = {"rows": result.rows, "pages": result.pages, "requests": result.requests,
                                  "seconds": round(result.seconds, 2), "batch": result.batch_dir.name}
        log.info("extracted %s%s: %s", result.stream, f"[{partition}]" if partition else "", summary[result.stream])
    return summary


def log_progress(event: dict[str, Any]) -> None:
    """One readable line per progress event (the JSON run log keeps the numbers as `progress`)."""
    where = f"{event['stream']}[{event['partition']}]" if event.get("partition") else event["stream"]
    if event["event"] == "waiting":  # a spent hourly quota (engine: HttpClient.wait_hook)
        text = (f"{where}: {event['resource']} quota spent, waiting {event['wait_s']} s for its reset at "
                f"{event['reset_at']} (server clock)")
    elif event["event"] == "partition":
        status = "" if event.get("status", "ok") == "ok" else f" ({event['status']})"
        text = f"{where}: partition read{status}, {event['pages']} pages, {event.get('rows', 0):,} records"
    else:
        waits = f", {event['rate_limit_waits']} rate-limit waits ({event['waited_s']} s)" \
            if event["rate_limit_waits"] else ""
        text = (f"{where}: {event['event']}, {event['pages']} pages, {event['rows']:,} records, "
                f"{event['requests']} requests ({event['not_modified']} not modified, {event['retries']} retried)"
                f"{waits}, {event['seconds']} s")
    log.info(text, extra={"progress": event})


def _stream_names(config: Config, sources: list[str] | None = None) -> list[tuple[str, str]]:
    names = []
    for source_name in sources or config.enabled_sources():
        source = build_source(source_name, config.source_settings(source_name, with_secret=False))
        names += [(source_name, s.name) for s in source.streams]
    return names


def timestamp_bounds(config: Config, ctx: RunContext) -> tuple[datetime, datetime]:
    """When a record's timestamps may lie: from a year before the history start to the end of the day after the run
    date (reporting time zone). A backfill of an old day reads records the API shows today, so the upper bound is
    never earlier than a day after now."""
    earliest = ctx.as_of - timedelta(days=config.history_days) - timedelta(days=365)
    day_after = datetime.combine(ctx.run_date + timedelta(days=2), time(0), tzinfo=ZoneInfo(config.reporting.timezone))
    return earliest, max(day_after.astimezone(UTC), datetime.now(UTC) + timedelta(days=1))


@landing_store.redacted_errors()
def validate(config: Config, source_name: str, ctx: RunContext) -> dict[str, Any]:
    """Check every landed batch of the source without a verdict; quarantine the ones that fail.

    The new batches of a stream are checked in one Great Expectations call (`validate_frames`), each still
    judged, quarantined and named alone."""
    from expectations.runner import MAX_COMBINED_ROWS, validate_frames

    warehouse = _warehouse(config)
    with warehouse.connect(read_only=True) as con:
        loaded = loaded_batch_ids(con) if con is not None and _has_meta(con) else set()
    summary: dict[str, Any] = {}
    failures = []
    records = []
    for _, stream_name in _stream_names(config, [source_name]):
        pending: dict[str, tuple[StorePath, dict[str, Any]]] = {}
        for batch in complete_batches(config.landing_dir, source_name, stream_name):
            if batch.name in loaded:
                continue
            if (batch / VALIDATION_FILE).exists():
                earlier = json.loads((batch / VALIDATION_FILE).read_text())
                if earlier.get("success") is not True:  # a crash came between the verdict and the move
                    failures.append(_quarantine(config, source_name, stream_name, batch, "; ".join(
                        f"{f['expectation']} on {f['kwargs'].get('column') or f['kwargs']}"
                        for f in earlier.get("failures", []) if f.get("severity") == "critical")))
                continue
            pending[batch.name] = (batch, read_manifest(batch))
        for group in _row_groups(pending, MAX_COMBINED_ROWS):
            frames = {name: _read_for_validation(batch, manifest, f"{source_name}__{stream_name}")
                      for name, (batch, manifest) in group.items()}
            primary_key = next(iter(group.values()))[1]["primary_key"]
            outcomes = validate_frames(frames, f"{source_name}__{stream_name}", primary_key,
                                       timestamp_bounds(config, ctx))
            for name, (batch, _) in group.items():
                outcome = outcomes[name]
                verdict = {**outcome.as_dict(), "batch_id": name, "evaluated_at": datetime.now(UTC).isoformat()}
                write_json_atomic(batch / VALIDATION_FILE, verdict)
                crashpoint("validate.verdict")
                records.append((name, source_name, stream_name, outcome))
                summary[f"{source_name}__{stream_name}"] = {"batch": name, "success": outcome.success,
                                                             "rows": len(frames[name])}
                if not outcome.success:
                    failures.append(_quarantine(config, source_name, stream_name, batch,
                                                "; ".join(f.describe() for f in outcome.critical)))
    if records:
        with warehouse.connect() as con:
            ensure_meta(con)
            for batch_id, src, stream_name, outcome in records:
                con.execute(
                    "INSERT INTO meta.validation_results VALUES (?, ?, ?, ?, now(), ?, ?)",
                    [batch_id, src, stream_name, outcome.success,
                     json.dumps([f.__dict__ for f in outcome.failures], default=str),
                     json.dumps(outcome.result, default=str)],
                )
    if failures:
        raise GuardFailure("data quality guard failed: " + " | ".join(failures))
    return summary


def _read_for_validation(batch: StorePath, manifest: dict[str, Any], suite: str):
    """A batch's rows as a DataFrame, with only the columns its suite checks (`columns_to_read`)."""
    from expectations.runner import columns_to_read

    files = [batch / f for f in manifest["files"]]
    columns = columns_to_read(suite, landing_store.read_schema(files[0]).names) if files else None
    return landing_store.read_table(files, columns=columns).to_pandas()


def _row_groups(pending: dict[str, tuple[StorePath, dict[str, Any]]], most: int):
    """Consecutive batches holding up to `most` rows together (a larger batch alone): checked in one call."""
    group: dict[str, tuple[StorePath, dict[str, Any]]] = {}
    rows = 0
    for name, entry in pending.items():
        if group and rows + int(entry[1].get("rows", 0)) > most:
            yield group
            group, rows = {}, 0
        group[name] = entry
        rows += int(entry[1].get("rows", 0))
    if group:
        yield group


def _quarantine(config: Config, source: str, stream: str, batch: StorePath, reasons: str) -> str:
    """Move a failed batch out of landing (the loader never sees it again); returns the message to raise."""
    target = config.quarantine_dir / source / stream / batch.name
    if target.exists():  # a replayed batch that failed again: keep the newest copy
        landing_store.remove_tree(target)
    landing_store.move_tree(batch, target)
    return (f"source {source}, stream {stream} ({source}__{stream}): batch {batch.name} quarantined to {target}: "
            + reasons)


def _has_meta(con) -> bool:
    return con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'meta' AND table_name = 'batches'"
    ).fetchone()[0] > 0


def write_config_tables(con, config: Config) -> None:
    """The service → team / SLO mapping from the config, replaced whole on every load."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE TABLE IF NOT EXISTS raw.config__services "
                "(service_id VARCHAR, team VARCHAR, slo_target_pct DOUBLE)")
    con.execute("DELETE FROM raw.config__services")
    rows = [(sid, svc.team, svc.slo_target_pct) for sid, svc in sorted(config.services.items())]
    if rows:
        con.executemany("INSERT INTO raw.config__services VALUES (?, ?, ?)", rows)
    # Prices of a minute of downtime (mart_downtime_cost_daily): only the priced services.
    con.execute("CREATE OR REPLACE TABLE raw.config__service_prices "
                "(service_id VARCHAR, downtime_cost_per_minute DOUBLE, revenue_per_minute DOUBLE)")
    prices = [(sid, svc.downtime_cost_per_minute, svc.revenue_per_minute)
              for sid, svc in sorted(config.services.items())
              if svc.downtime_cost_per_minute is not None or svc.revenue_per_minute is not None]
    if prices:
        con.executemany("INSERT INTO raw.config__service_prices VALUES (?, ?, ?)", prices)
    # Repositories: team and the PagerDuty services their deployments can break.
    con.execute("CREATE OR REPLACE TABLE raw.config__repos (repo VARCHAR, team VARCHAR)")
    repos = sorted(set(config.dora.repo_teams) | set(config.dora.repo_services))
    if repos:
        con.executemany("INSERT INTO raw.config__repos VALUES (?, ?)",
                        [(r, config.dora.repo_teams.get(r, "unassigned")) for r in repos])
    con.execute("CREATE OR REPLACE TABLE raw.config__repo_services (repo VARCHAR, service_id VARCHAR)")
    pairs = [(r, s) for r, services in sorted(config.dora.repo_services.items()) for s in services]
    if pairs:
        con.executemany("INSERT INTO raw.config__repo_services VALUES (?, ?)", pairs)
    # Jira projects: team.
    con.execute("CREATE OR REPLACE TABLE raw.config__projects (project_key VARCHAR, team VARCHAR)")
    if config.jira_flow.project_teams:
        con.executemany("INSERT INTO raw.config__projects VALUES (?, ?)",
                        sorted(config.jira_flow.project_teams.items()))


def declared_streams():
    """Every stream of every source, enabled or not: dbt needs their raw tables to exist."""
    placeholder = {"base_url": "http://unused", "email": "", "projects": [], "repos": []}
    return [s for name in SOURCES for s in build_source(name, placeholder).streams]


@landing_store.redacted_errors()
def load(config: Config, ctx: RunContext) -> dict[str, Any]:
    with _warehouse(config).connect() as con:
        ensure_meta(con)
        for stream in declared_streams():
            ensure_raw_table(con, stream.key, {c.name: c.kind for c in stream.columns},
                             {c.name: c.path or c.name for c in stream.columns if c.partition_key is None})
        rejected: list[str] = []
        results = load_pending(con, config.landing_dir, _stream_names(config), config.quarantine_dir, rejected)
        con.execute("BEGIN TRANSACTION")
        write_config_tables(con, config)
        con.execute("COMMIT")
        if (target := config.warehouse.postgres_target()) is not None:
            # dbt builds on Postgres: the raw tables (and meta) as this load left them, in one transaction there
            postgres_warehouse.mirror(con, target)
    if rejected:
        raise GuardFailure("the warehouse refused batches: " + " | ".join(rejected))
    return {r.batch_id: {"table": r.table, "rows_landed": r.rows_landed, "rows_changed": r.rows_changed}
            for r in results}


def dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def transform_env(config: Config) -> dict[str, str]:
    """The DuckDB bounds of the dbt build (config `transform:`), read by dbt_project/profiles.yml."""
    settings = config.transform
    config.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
    # Relative to the data directory, where dbt runs (opskpi/dbt_process.py: the same profile for every directory).
    env = {"OPSKPI_DBT_THREADS": str(settings.threads), "OPSKPI_DUCKDB_MEMORY_LIMIT": settings.memory_limit.strip(),
           "OPSKPI_DUCKDB_TEMP_DIRECTORY": config.duckdb_temp_dir.relative_to(config.data_dir).as_posix()}
    if settings.duckdb_threads is not None:
        env["OPSKPI_DUCKDB_THREADS"] = str(settings.duckdb_threads)
    return env


def dbt_env(config: Config, ctx: RunContext) -> dict[str, str]:
    """dbt's environment: the warehouse and target paths, the DuckDB bounds, the run's date, as-of and id, and no
    API token and no object-store secret (dbt needs none, so none can reach anything it logs). The warehouse's paths
    are relative to the data directory, dbt's working directory (`run_dbt`)."""
    tokens = {source.token_env for source in config.sources.values()} | set(landing_store.SECRET_ENV)
    return {
        **{k: v for k, v in os.environ.items() if k not in tokens},
        "OPSKPI_WAREHOUSE": config.warehouse_path.relative_to(config.data_dir).as_posix(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_TARGET_PATH": str(_dbt_target(config)),
        "DBT_LOG_PATH": str((config.data_dir / "dbt" / "logs").absolute()),
        # dbt's file log at debug level writes every query and event of every node: ~10 % of a small build's time.
        # `info` keeps what ran and what failed; set DBT_LOG_LEVEL_FILE=debug to see the queries.
        "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE", "info"),
        **transform_env(config),
        **ctx.dbt_run_env(),
        **(target.dbt_env() if (target := config.warehouse.postgres_target()) is not None else {}),
    }


def selection_vars(config: Config, ctx: RunContext) -> dict[str, Any]:
    """The vars the slim-build and docs state is kept for (opskpi/dbt_selection.py), with the warehouse dbt builds
    in: a build on another target starts from every node, as after a change of the project."""
    target = config.warehouse.postgres_target()
    where = {} if target is None else {"opskpi_warehouse": f"postgres://{target.host}:{target.port}/{target.dbname}"}
    return {**ctx.dbt_vars(config), **where}


def dbt_project_args(config: Config, ctx: RunContext) -> list[str]:
    """Our project, its profile and the config's vars: the arguments every dbt command of a run ends with."""
    return ["--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
            "--vars", json.dumps(ctx.dbt_vars(config))]


def dbt_command(config: Config, ctx: RunContext, *args: str) -> list[str]:
    return [dbt_executable(), *args, *dbt_project_args(config, ctx)]


def _dbt_target(config: Config) -> Path:
    return (config.data_dir / "dbt" / "target").absolute()  # absolute: dbt runs in the data directory


def run_dbt(config: Config, command: list[str], env: dict[str, str], lock_fd: int) -> subprocess.CompletedProcess[str]:
    """A dbt step in the data directory, starting from the install's shared parse (opskpi/dbt_process.py); dbt
    inherits the locked descriptor: should this process die, dbt keeps the lock until it exits."""
    return dbt_process.run(command, env, config.data_dir, _dbt_target(config), DBT_PROJECT, lock_fd)


# The mart of the freshness results (dbt_project/models/marts/kpi_snapshot/pipeline_source_freshness_daily.sql).
FRESHNESS_SELECTOR = "source:meta.source_freshness+"


def _report_freshness(config: Config) -> dict[str, int]:
    """What the build's freshness check found (opskpi/freshness.py: reported, never failing the run on warn or
    error): a warning per table past a threshold, and the count per status."""
    from opskpi import freshness

    rows = freshness.parse_results(_dbt_target(config) / "sources.json")
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
        if row["status"] != "pass":
            log.warning("source freshness %s.%s: %s (newest row loaded %s)", row["source"], row["source_table"],
                        row["status"], row["max_loaded_at"] or "never")
    return counts


def dbt_session_command(spec: dict[str, Any], config: Config, ctx: RunContext) -> list[str]:
    """The one dbt process of a transform: freshness, then the build (opskpi/dbt_session.py)."""
    return [sys.executable, "-m", "opskpi.dbt_session", json.dumps(spec), *dbt_project_args(config, ctx)]


def transform(config: Config, ctx: RunContext, tests: bool = True, docs: bool = True,
              freshness: bool = True) -> dict[str, Any]:
    """`dbt source freshness` over the enabled sources' raw tables, then `dbt build` (models and tests), in one dbt
    process under the warehouse lock (opskpi/dbt_session.py); a failing model or test fails the run, a source past
    its freshness thresholds does not (it is recorded in meta.source_freshness for the report's data-health section).

    When the dbt project and its vars are those of the last successful build, the build is slim: the models that
    read the run's date and what the data loaded since that build can change, with their tests
    (opskpi/dbt_selection.py); else every node. `tests=False` builds seeds and models without running dbt's tests,
    for replays that test once at the end; `freshness=False` skips the freshness check (replays and benchmarks of the
    build alone); `docs=False` skips the docs page. A full-refresh run, and the first build after the project or its
    vars changed, rebuild the incremental models from scratch too (`--full-refresh`; the histories are kept).
    """
    from opskpi import dbt_failures, dbt_selection

    env = dbt_env(config, ctx)
    dbt_vars = selection_vars(config, ctx)
    build: list[str] = []
    if not tests:
        build += ["--exclude-resource-type", "test"]
    if ctx.full_refresh:
        build += ["--full-refresh"]
    target = _dbt_target(config)
    check = None
    if freshness:
        check = {"output": str(target / "sources.json"), "rows": str(target / "source_freshness_rows.json"),
                             "select": [f"source:{name}" for name in config.enabled_sources()],
                             "run_date": ctx.run_date.isoformat(), "run_id": ctx.run_id}
    with _warehouse(config).lock() as lock_fd:
        with _open_locked(config) as con:
            plan = dbt_selection.plan(con, DBT_PROJECT, dbt_vars, full_refresh=ctx.full_refresh)
        if plan.refresh and not ctx.full_refresh:
            build += ["--full-refresh"]
        if plan.select is not None:
            # The freshness check writes the date's rows after the plan was made: its mart is rebuilt every time.
            build += ["--select", *plan.select, *([FRESHNESS_SELECTOR] if freshness else [])]
        log.info("dbt build: %s (%s)", "slim" if plan.select is not None else "every node", plan.reason)
        spec = {"build": build, **({"freshness": check} if check else {})}
        command = dbt_session_command(spec, config, ctx)
        # dbt inherits the locked descriptor: should this process die, dbt keeps the lock until it exits,
        # so the next run waits for it instead of writing the warehouse beside it.
        run_results = target / "run_results.json"
        run_results.unlink(missing_ok=True)  # an older build's failures must never be reported as this one's
        completed = run_dbt(config, command, env, lock_fd)
        before_build, _, output = completed.stdout.partition(dbt_session.BUILD_STARTS)
        if completed.returncode == dbt_session.FRESHNESS_FAILED:
            tail = "\n".join(before_build.strip().splitlines()[-15:])
            raise RuntimeError(f"dbt source freshness did not run; nothing was built:\n{tail}\n"
                               f"{completed.stderr[-2000:]}")
        samples: list[str] = []
        if completed.returncode == 0 and tests:
            with _open_locked(config) as con:
                dbt_selection.record(con, plan, _dbt_target(config) / "manifest.json", ctx.run_id)
        elif (completed.returncode != 0 and config.warehouse.type == "duckdb"
              and dbt_failures.failed_tests(run_results)):  # the failing rows are sampled from DuckDB only
            with _open_locked(config) as con:
                samples = dbt_failures.describe(con, run_results)
    output = output or before_build  # no build started: dbt failed to parse the project
    tail = "\n".join(output.strip().splitlines()[-25:])
    if completed.returncode != 0:
        # Name what failed (a model error or a failing test), not just dbt's last lines.
        failed = [line for line in output.splitlines()
                  if any(word in line for word in ("ERROR", "FAIL ", "Error in", "Database Error", "Runtime Error"))]
        raise RuntimeError(f"dbt build failed (exit {completed.returncode}):\n" + "\n".join(failed[:30] + samples)
                           + f"\n…\n{tail}\n{completed.stderr[-2000:]}")
    log.info("dbt build:\n%s", tail)
    return {"dbt": tail.splitlines()[-1] if tail else "", "build": "slim" if plan.select is not None else "full",
            **({"freshness": _report_freshness(config)} if freshness else {}),
            "build_reason": plan.reason, "docs": _generate_docs(config, ctx, env) if docs else False}


@contextmanager
def _open_locked(config: Config) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse, read-write, for a caller that already holds its lock (Warehouse.connect takes it again)."""
    con = duckdb.connect(str(config.warehouse_path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


def _docs_page(config: Config) -> Path:
    return config.data_dir / "dbt" / "target" / "static_index.html"


def _generate_docs(config: Config, ctx: RunContext, env: dict[str, str]) -> bool:
    """`dbt docs generate --static`: one self-contained HTML page (models, columns, tests, lineage) that
    publish puts beside the marts, so BI users read the catalog of what they query. It reuses the
    manifest the build just wrote (`--no-compile`, ~2 s) and reads the catalog under the warehouse lock.
    A failure here is logged, not raised: the marts are built and must still be published.

    The page is made from the project, the vars and the warehouse's schema only (dbt-duckdb's catalog lists
    relations and columns, no row counts): when all three equal those the current page was made from
    (`docs_inputs`, stamped beside it), the page is kept and dbt not started, ~4 s saved on most nights; a page
    made from the same inputs in another data directory of this install is copied (opskpi/dbt_process.py)."""
    from opskpi.dbt_selection import docs_inputs

    page = _docs_page(config)
    stamp = page.with_name(page.name + ".inputs")
    command = dbt_command(config, ctx, "docs", "generate", "--static", "--no-compile")
    with _warehouse(config).lock() as lock_fd:
        with _open_locked(config) as con:
            inputs = docs_inputs(con, DBT_PROJECT, selection_vars(config, ctx))
        if page.exists() and stamp.exists() and stamp.read_text() == inputs:
            log.info("dbt docs: project, vars and schema unchanged since %s was made: kept", page.name)
            return True
        stamp.unlink(missing_ok=True)
        page.unlink(missing_ok=True)  # never publish an older catalog as if it were this build's
        shared = dbt_process.docs_page_path(DBT_PROJECT, inputs)
        if shared is not None and shared.exists():
            page.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shared, page)
            stamp.write_text(inputs)
            log.info("dbt docs: the page of the same project, vars and schema made for another data directory")
            return True
        completed = run_dbt(config, command, env, lock_fd)
    if completed.returncode != 0 or not page.exists():
        log.warning("dbt docs generate failed (exit %s); the marts are published without docs:\n%s",
                    completed.returncode, "\n".join(completed.stdout.strip().splitlines()[-10:]))
        return False
    stamp.write_text(inputs)
    dbt_process.share(page, shared)
    return True


@landing_store.redacted_errors()
def publish(config: Config, ctx: RunContext) -> dict[str, Any]:
    """The published DuckDB file and Parquet set in `<data_dir>/published`, then, with `publish.parquet_url`, the
    Parquet set mirrored to the object store (opskpi/publish_store.py)."""
    docs = _docs_page(config)
    manifest = _dbt_target(config) / "manifest.json"  # the build's: the comments and keys of what is published
    result = publish_marts(_warehouse(config), config.published_dir, ctx.run_id, docs if docs.exists() else None,
                           manifest if manifest.exists() else None,
                           postgres=config.warehouse.postgres_target())
    if config.published_mirror is not None:
        from opskpi.publish_store import mirror

        result = {**result, "mirror": mirror(config.published_dir / "versions" / result["version"],
                                             config.published_mirror)}
    return result


def report(config: Config, ctx: RunContext) -> dict[str, Any]:
    """The nightly report of the run's day from the published marts (kpi_daily_snapshot): written to
    published/report/<date>/ and latest/, then sent by webhook / e-mail when `report:` configures them."""
    from opskpi.report import generate_report
    from opskpi.report.deliver import deliver

    result = generate_report(config.published_dir / "opskpi.duckdb", config.published_dir / "report",
                             ctx.run_date, config.report.title)
    subject, chat_text = result.pop("subject"), result.pop("chat_text")
    result["delivery"] = deliver(config.report, Path(result["dir"]), ctx.run_id, subject, chat_text)
    log.info("report: %s", result)
    return result
