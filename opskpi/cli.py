"""`opskpi run`: run the daily DAG through Airflow itself, with a project-local Airflow home.

Airflow is imported only after the environment is set (its settings are read at import), and only
by this command, so the rest of the package stays importable and testable without it.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from opskpi.config import ConfigError, load_config
from opskpi.warehouse import WarehouseBusy, run_lock

PROJECT_ROOT = Path(__file__).resolve().parent.parent
POOLS = {
    "duckdb_writer": (1, "The only writer of the DuckDB warehouse (DuckDB allows one read-write process)"),
    "jira_api": (2, "Concurrent requests to Jira"),
    "pagerduty_api": (1, "Concurrent requests to PagerDuty (960 requests/min per key)"),
    "github_api": (2, "Concurrent requests to GitHub"),
}


def airflow_env(airflow_home: Path, config_path: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DO_NOT_TRACK": "1",
        "SCARF_NO_ANALYTICS": "true",
        "OPSKPI_CONFIG": str(config_path),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }


def prepare_airflow(airflow_home: Path) -> None:
    """Migrate the SQLite metadata DB once and create the pools (both idempotent)."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    stamp = airflow_home / ".migrated"
    airflow = str(Path(sys.executable).parent / "airflow")
    if not stamp.exists():
        subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, text=True)
        stamp.write_text("ok")
    from airflow.models.pool import Pool

    for name, (slots, description) in POOLS.items():
        Pool.create_or_update_pool(name, slots, description, include_deferred=False)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    config.check_secrets()
    with run_lock(config.data_dir):  # a second run on the same data refuses here, before any request
        return _run_dag(config, args)


def _run_dag(config, args: argparse.Namespace) -> int:
    from opskpi.console import RunConsole

    run_date = date.fromisoformat(args.date) if args.date else datetime.now(UTC).date()
    airflow_home = config.data_dir / "airflow"
    os.environ.update(airflow_env(airflow_home, Path(args.config).resolve()))
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    started = time.monotonic()
    console = RunConsole(config, run_date, verbose=args.verbose)
    with console.running():
        prepare_airflow(airflow_home)
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
        if bag.import_errors:
            raise RuntimeError(f"DAG import errors: {bag.import_errors}")
        dag = bag.get_dag("ops_kpi_daily")
        logical = datetime(run_date.year, run_date.month, run_date.day, tzinfo=UTC)
        conf = {"config": str(Path(args.config).resolve()), "run_date": run_date.isoformat(),
                "full_refresh": bool(args.full_refresh), "sources": args.sources or []}
        dag_run = dag.test(logical_date=logical, run_conf=conf)
    state = str(dag_run.state).split(".")[-1]
    console.summary(dag_run.run_id, state, time.monotonic() - started, task_rows(dag_run.dag_id, dag_run.run_id))
    return 0 if state == "success" else 1


def task_rows(dag_id: str, run_id: str) -> list[tuple[str, int, str, float | None]]:
    """(task id, mapped instances, state, seconds from the first start to the last end) in order of start."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = session.execute(
            select(TaskInstance.task_id, TaskInstance.state, TaskInstance.start_date, TaskInstance.end_date)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            .order_by(TaskInstance.start_date)
        ).all()
    grouped: dict[str, list] = {}
    for task_id, state, start, end in tis:
        grouped.setdefault(task_id, []).append((str(state).split(".")[-1], start, end))
    rows = []
    for task_id, instances in grouped.items():
        states = sorted({s for s, _, _ in instances})
        starts, ends = [s for _, s, _ in instances if s], [e for _, _, e in instances if e]
        took = (max(ends) - min(starts)).total_seconds() if starts and ends else None
        rows.append((task_id, len(instances), states[0] if len(states) == 1 else "/".join(states), took))
    return rows


def replay(args: argparse.Namespace) -> int:
    from opskpi.pipeline import GuardFailure
    from opskpi.replay import replay as replay_batch

    config = load_config(args.config)
    try:
        summary = replay_batch(config, args.batch, publish=args.publish)
    except GuardFailure as exc:
        print(f"the batch failed again and is back in quarantine: {exc}", file=sys.stderr)
        return 1
    loaded = sum(v["rows_landed"] for v in summary["load"].values())
    print(f"replayed {summary['source']}__{summary['stream']} batch {summary['batch']}: validated, "
          f"{loaded} records loaded" + ("; marts rebuilt and published" if args.publish else
                                        "; the marts pick it up on the next run (or replay with --publish)"))
    return 0


def report(args: argparse.Namespace) -> int:
    """Regenerate a day's report from marts.kpi_daily_snapshot (and that day's pipeline_health_daily rows)."""
    from opskpi.report import ReportDataError, generate_report
    from opskpi.warehouse import Warehouse

    config = load_config(args.config)
    run_date = date.fromisoformat(args.date)
    out = config.published_dir / "report"
    try:
        if args.source == "warehouse":
            with Warehouse(config.warehouse_path).lock():
                result = generate_report(config.warehouse_path, out, run_date, config.report.title)
        else:
            result = generate_report(config.published_dir / "opskpi.duckdb", out, run_date, config.report.title)
    except ReportDataError as exc:
        print(f"no report: {exc}", file=sys.stderr)
        return 1
    print(f"report for {run_date}: {result['dir']}/index.html ({result['kpis']} KPI values, run {result['run_id']})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opskpi", description="Operational KPI warehouse")
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run the daily DAG (extract, validate, load, dbt build, publish)")
    run_p.add_argument("--config", required=True, help="YAML config, e.g. config/demo.yml")
    run_p.add_argument("--date", help="reporting day YYYY-MM-DD (default: today, UTC)")
    run_p.add_argument("--full-refresh", action="store_true", help="ignore watermarks and re-read the history")
    run_p.add_argument("--sources", type=lambda s: [x for x in s.split(",") if x], help="e.g. pagerduty,github")
    run_p.add_argument("--verbose", action="store_true",
                       help="print Airflow's task logs here (default: a live line per stream; the logs go to a file)")
    setup_p = sub.add_parser("setup", help="migrate the Airflow metadata DB of $AIRFLOW_HOME and create the pools")
    setup_p.add_argument("--airflow-home", help="default: $AIRFLOW_HOME")
    replay_p = sub.add_parser("replay", help="move a quarantined batch back to landing, validate and load it")
    replay_p.add_argument("--config", required=True, help="YAML config, e.g. config/demo.yml")
    replay_p.add_argument("--batch", required=True, help="the batch directory under <data_dir>/quarantine/ "
                                                   "(its s3:// URL for a quarantine on an object store)")
    replay_p.add_argument("--publish", action="store_true", help="then rebuild the marts and publish them")
    report_p = sub.add_parser("report", help="write a day's KPI report from the snapshot table (no delivery)")
    report_p.add_argument("--config", required=True, help="YAML config, e.g. config/demo.yml")
    report_p.add_argument("--date", required=True, help="reporting day YYYY-MM-DD")
    report_p.add_argument("--from", dest="source", choices=("published", "warehouse"), default="published",
                          help="read the published marts (default) or the live warehouse (waits for its lock)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "run":
            return run(args)
        if args.command == "setup":
            home = Path(args.airflow_home or os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
            os.environ["AIRFLOW_HOME"] = str(home)
            prepare_airflow(home)
            print(f"Airflow home {home}: database migrated, pools {', '.join(POOLS)} set")
            return 0
        if args.command == "replay":
            return replay(args)
        if args.command == "report":
            return report(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except WarehouseBusy as exc:
        print(f"busy: {exc}", file=sys.stderr)
        return 3
    return 1


if __name__ == "__main__":
    sys.exit(main())

