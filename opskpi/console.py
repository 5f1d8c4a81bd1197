"""What `opskpi run` prints: a live line per stream while the DAG runs, then one summary.

`dag.test()` writes every task's log to the console, hundreds of lines with colour codes in which the numbers a
user wants scroll away. So, unless `--verbose`, the run's console (file descriptors 1 and 2: Airflow, dbt,
warnings alike) goes to a file under `data/logs/airflow/`, and the user sees instead, on a terminal, one live line
per stream (records, requests, rate-limit waits) read from the run's JSON lines log (`opskpi.runlog`), then, on
any output, one plain-text summary: the tasks with their state and time, the requests per source, the headline
KPIs of the published snapshot and where the report, the marts and the logs are. Nothing but the live display
(terminal only) uses escape codes, so a log file or a CI page gets plain lines.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

import duckdb

from opskpi.config import Config
from opskpi.runlog import log_path

# (label, kpi, window, unit) per line: the org's headline numbers, as the report's tiles name them.
HEADLINE = (
    (("availability", "availability", "30d", "pct3"), ("MTTA", "mtta_mean", "30d", "s"),
     ("MTTR", "mttr_mean", "30d", "s"), ("open incidents", "incidents_open", "1d", "count")),
    (("deployments", "deployment_frequency", "30d", "per_day"), ("lead time", "lead_time_p50", "30d", "s"),
     ("change failure rate", "change_failure_rate", "30d", "pct"),
     ("time to restore", "time_to_restore_p50", "30d", "s")),
    (("open critical alerts", "alerts_open_critical", "1d", "count"),
     ("alerts past SLA", "alerts_in_breach", "1d", "count"), ("SLA compliance", "sla_compliance", "1d", "pct")),
    (("cycle time", "cycle_time_p50", "30d", "s"), ("throughput", "throughput", "30d", "count"),
     ("work in progress", "wip", "1d", "count")),
)


def fmt_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return {"pct3": f"{value:.3f} %", "pct": f"{value:.1f} %", "per_day": f"{value:.2f}/day",
            "count": f"{value:,.0f}", "s": fmt_seconds(value)}[unit]


@dataclass
class StreamProgress:
    """A stream's latest counts, summed over the tasks (partitions) that read it."""

    by_task: dict[str | None, dict[str, Any]] = field(default_factory=dict)
    # Per task: the quota wait it is in (GitHub's hourly quota spent: up to `max_quota_wait`), until it reads on.
    waiting: dict[str | None, dict[str, Any]] = field(default_factory=dict)

    def total(self, key: str) -> float:
        return sum(event.get(key) or 0 for event in self.by_task.values())

    @property
    def done(self) -> bool:
        return all(event["event"] == "done" for event in self.by_task.values())


class RunLogFollower:
    """Reads the progress records of the run logs (`data/logs/runs/*.jsonl`) written since `since`."""

    def __init__(self, runs_dir: Path, since: float):
        self.runs_dir, self.since = runs_dir, since
        self.offsets: dict[Path, int] = {}
        self.streams: dict[str, StreamProgress] = {}
        self.errors: list[str] = []

    def poll(self, only: Path | None = None) -> None:
        paths = [only] if only else sorted(self.runs_dir.glob("*.jsonl")) if self.runs_dir.is_dir() else []
        for path in paths:
            try:
                if path.stat().st_mtime < self.since:
                    continue
                with path.open("rb") as handle:
                    handle.seek(self.offsets.get(path, 0))
                    chunk = handle.read()
            except OSError:
                continue
            complete = chunk[:chunk.rfind(b"\n") + 1]  # a line still being written waits for the next poll
            self.offsets[path] = self.offsets.get(path, 0) + len(complete)
            for line in complete.splitlines():
                self._take(line)

    def _take(self, line: bytes) -> None:
        try:
            entry = json.loads(line)
        except ValueError:
            return
        if entry.get("level") == "ERROR":
            self.errors.append(entry.get("message", ""))
        progress = entry.get("progress")
        if isinstance(progress, dict) and progress.get("event") in ("reading", "done", "waiting"):
            stream = self.streams.setdefault(progress["stream"], StreamProgress())
            task = entry.get("partition")
            task = tuple(task) if isinstance(task, list) else task  # a key, whatever an older log wrote
            if progress["event"] == "waiting":
                stream.waiting[task] = progress
            else:
                stream.by_task[task] = progress
                stream.waiting.pop(task, None)

    def lines(self) -> list[str]:
        """One line per stream: what the live display shows."""
        width = max([len("stream"), *map(len, self.streams)])
        out = []
        for name, stream in sorted(self.streams.items()):
            waits = stream.total("rate_limit_waits")
            wait_text = f", {waits:.0f} rate-limit waits ({stream.total('waited_s'):.1f} s)" if waits else ""
            for wait in stream.waiting.values():  # a long wait is said, or the display would look hung
                wait_text += f", waiting for the {wait.get('resource')} quota reset at {wait.get('reset_at')}"
            out.append(f"{name:<{width}}  {'done' if stream.done else 'reading':<7} "
                       f"{stream.total('rows'):>9,.0f} records {stream.total('requests'):>6,.0f} requests{wait_text}")
        return out

    def per_source(self) -> dict[str, dict[str, float]]:
        sources: dict[str, dict[str, float]] = {}
        for name, stream in self.streams.items():
            totals = sources.setdefault(name.split("__")[0], {"requests": 0, "rows": 0, "waits": 0, "waited_s": 0,
                                                               "points": 0, "quota_waits": 0})
            # points: what GitHub's GraphQL queries cost of the 5,000 an hour (0 for REST-only sources)
            for key, total_key in (("requests", "requests"), ("rows", "rows"), ("waits", "rate_limit_waits"),
                                   ("waited_s", "waited_s"), ("points", "points"), ("quota_waits", "quota_waits")):
                totals[key] += stream.total(total_key)
        return sources


class RunConsole:
    """The console of one `opskpi run`: quiet (task logs to a file, a live display on a terminal) or verbose."""

    def __init__(self, config: Config, run_date: date, verbose: bool, out: TextIO | None = None):
        self.config, self.run_date, self.verbose = config, run_date, verbose
        self.out = out or sys.stdout
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        self.task_log = config.data_dir / "logs" / "airflow" / f"run-{run_date.isoformat()}-{stamp}.log"
        self.follower = RunLogFollower(config.run_logs_dir, since=datetime.now().timestamp() - 1)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        if self.verbose:
            yield
            return
        self.task_log.parent.mkdir(parents=True, exist_ok=True)
        # Our own copy of the console, for the live display, before descriptors 1 and 2 go to the file.
        try:
            console_fd = os.dup(self.out.fileno())
        except (AttributeError, OSError, io.UnsupportedOperation):  # an in-memory stream: no live display
            console_fd = None
        live_out = os.fdopen(console_fd, "w", buffering=1) if console_fd is not None else self.out
        with self._to_file(), self._live(live_out):
            yield
        if console_fd is not None:
            live_out.close()

    @contextlib.contextmanager
    def _to_file(self) -> Iterator[None]:
        """Descriptors 1 and 2 (child processes, C libraries) and Python's sys.stdout / sys.stderr (where they are not
        those descriptors, as under pytest) into the task log, all appending to it."""
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        saved = [os.dup(1), os.dup(2)]
        with self.task_log.open("a", buffering=1, encoding="utf-8", errors="replace") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                    yield
            finally:
                for stream in (sys.stdout, sys.stderr):
                    stream.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                for fd in saved:
                    os.close(fd)

    @contextlib.contextmanager
    def _live(self, out: TextIO) -> Iterator[None]:
        if not out.isatty():
            yield
            return
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        def render() -> Text:
            self.follower.poll()
            lines = self.follower.lines() or ["starting Airflow…"]
            return Text("\n".join(lines), no_wrap=True, overflow="ellipsis")  # one line per stream, always

        # Live must not take sys.stdout / sys.stderr over: they are the task log's now.
        try:
            width = os.get_terminal_size(out.fileno()).columns  # this terminal's, not the process's stdin's
        except OSError:
            width = None
        with Live(get_renderable=render, console=Console(file=out, force_terminal=True, width=width),
                  refresh_per_second=4,
                  transient=True, redirect_stdout=False, redirect_stderr=False):
            yield

    def summary(self, run_id: str, state: str, seconds: float, tasks: list[tuple[str, int, str, float | None]]) -> None:
        """Tasks (state, time), requests per source, headline KPIs, where things are. Plain text."""
        self.follower.poll(log_path(self.config.run_logs_dir, run_id))
        write = self._writer()
        write(f"run {run_id}: {state} in {seconds:.0f} s")
        cells = [f"{name}{f' x{count}' if count > 1 else ''} {task_state}{'' if took is None else f' {took:.0f}s'}"
                 for name, count, task_state, took in tasks]
        for start in range(0, len(cells), 4):  # four tasks a line
            write("  " + ";  ".join(cells[start:start + 4]))
        sources = self.follower.per_source()
        if sources:
            write("requests per source:")
            for source, totals in sorted(sources.items()):
                waits = (f", {totals['waits']:.0f} rate-limit waits ({totals['waited_s']:.1f} s)"
                         if totals["waits"] else "")
                points = f", {totals['points']:,.0f} GraphQL points" if totals["points"] else ""
                if totals["quota_waits"]:
                    points += f", {totals['quota_waits']:.0f} hourly-quota waits"
                write(f"  {source:<10} {totals['requests']:>6,.0f} requests {totals['rows']:>9,.0f} records"
                      f"{points}{waits}")
        for line in self.headline():
            write(line)
        if self.follower.errors:
            write("errors:")
            for message in self.follower.errors[-8:]:
                write("  " + message.splitlines()[0][:200])
        published = self.config.published_dir
        write("where:")
        write(f"  report     {published / 'report' / 'latest' / 'index.html'}")
        write(f"  marts      {published / 'opskpi.duckdb'}  (Parquet: {published / 'parquet'}/)")
        write(f"  run log    {log_path(self.config.run_logs_dir, run_id)}")
        write(f"  task logs  {self.task_log if not self.verbose else 'printed above (--verbose)'}")

    def headline(self) -> list[str]:
        published = self.config.published_dir / "opskpi.duckdb"
        if not published.exists():
            return []
        try:
            with duckdb.connect(str(published), read_only=True) as con:
                rows = con.execute(
                    'SELECT kpi, "window", value FROM marts.kpi_daily_snapshot '
                    "WHERE snapshot_date = ? AND scope_type = 'org'", [self.run_date]).fetchall()
        except duckdb.Error:
            return []
        values = {(kpi, window): value for kpi, window, value in rows}
        if not values:
            return []
        lines = [f"headline KPIs, org, {self.run_date} (30 days; counts at the end of the day):"]
        for group in HEADLINE:
            parts = [f"{label} {fmt_value(values.get((kpi, window)), unit)}" for label, kpi, window, unit in group
                     if (kpi, window) in values]
            if parts:
                lines.append("  " + "; ".join(parts))
        return lines

    def _writer(self):
        return lambda line: print(line, file=self.out, flush=True)
