"""`opskpi run`'s console (opskpi.console): task logs to a file, progress from the run log, a plain summary."""

from __future__ import annotations

import fcntl
import io
import json
import os
import select
import struct
import subprocess
import sys
import termios
import time
from datetime import date

import duckdb

from opskpi.console import RunConsole, RunLogFollower
from opskpi.runlog import log_path

RUN_DATE = date(2026, 11, 19)


def progress(partition, stream, event, rows, requests, waits=0, waited=0.0, points=0) -> str:
    return json.dumps({"level": "INFO", "partition": partition, "message": "…",
                       "progress": {"event": event, "stream": stream, "partition": None, "rows": rows,
                                    "requests": requests, "rate_limit_waits": waits, "waited_s": waited,
                                    "points": points}})


def test_quiet_run_sends_the_whole_console_to_the_task_log(make_config, capfd):
    config = make_config()
    out = io.StringIO()
    console = RunConsole(config, RUN_DATE, verbose=False, out=out)
    with console.running():
        print("a task's log line")
        os.write(2, b"written straight to descriptor 2\n")
        subprocess.run([sys.executable, "-c", "print('a child process')"], check=True)
    print("after the run")
    logged = console.task_log.read_text()
    assert "a task's log line" in logged and "descriptor 2" in logged and "a child process" in logged
    assert console.task_log.parent == config.data_dir / "logs" / "airflow"
    assert capfd.readouterr().out == "after the run\n" and out.getvalue() == ""


def test_verbose_run_leaves_the_console_alone(make_config, capfd):
    console = RunConsole(make_config(), RUN_DATE, verbose=True, out=io.StringIO())
    with console.running():
        print("a task's log line")
    assert capfd.readouterr().out == "a task's log line\n"
    assert not console.task_log.exists()


def test_follower_sums_the_latest_counts_of_each_task_and_waits_for_whole_lines(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    path = runs / "run-1.jsonl"
    path.write_text("\n".join([
        progress("acme/api", "github__pulls", "reading", 100, 2),
        progress("acme/api", "github__pulls", "done", 250, 3, waits=1, waited=2.5, points=7),
        progress("acme/web", "github__pulls", "reading", 40, 1),
        progress(None, "pagerduty__incidents", "done", 7, 1),
        json.dumps({"level": "ERROR", "message": "load failed: boom\ntraceback"}),
    ]) + "\n" + progress("acme/web", "github__pulls", "done", 90, 2)[:30])  # the last line is half written
    follower = RunLogFollower(runs, since=0)
    follower.poll()
    assert follower.per_source() == {
        "github": {"requests": 4, "rows": 290, "waits": 1, "waited_s": 2.5, "points": 7, "quota_waits": 0},
        "pagerduty": {"requests": 1, "rows": 7, "waits": 0, "waited_s": 0, "points": 0, "quota_waits": 0}}
    assert follower.lines()[0].split() == ["github__pulls", "reading", "290", "records", "4", "requests,", "1",
                                           "rate-limit", "waits", "(2.5", "s)"]
    assert follower.errors == ["load failed: boom\ntraceback"]
    with path.open("a") as handle:
        handle.write(progress("acme/web", "github__pulls", "done", 90, 2)[30:] + "\n")
    follower.poll()
    assert follower.per_source()["github"] == {"requests": 5, "rows": 340, "waits": 1, "waited_s": 2.5, "points": 7,
                                               "quota_waits": 0}
    assert follower.lines()[0].split()[:3] == ["github__pulls", "done", "340"]


def test_a_quota_wait_shows_on_its_stream_until_it_reads_on(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    path = runs / "run-1.jsonl"
    waiting = {"event": "waiting", "stream": "github__pulls", "resource": "graphql", "wait_s": 1800.0,
               "reset_at": "2026-11-20T07:00:00Z"}
    path.write_text(progress("acme/api", "github__pulls", "reading", 100, 2) + "\n"
                    + json.dumps({"level": "INFO", "partition": "acme/api", "progress": waiting}) + "\n")
    follower = RunLogFollower(runs, since=0)
    follower.poll()
    assert follower.lines()[0].endswith(", waiting for the graphql quota reset at 2026-11-20T07:00:00Z")
    with path.open("a") as handle:
        handle.write(json.dumps({"level": "INFO", "partition": "acme/api", "progress": {
            **json.loads(progress("acme/api", "github__pulls", "done", 180, 4))["progress"], "quota_waits": 1}}) + "\n")
    follower.poll()
    assert "waiting" not in follower.lines()[0]
    assert follower.per_source()["github"]["quota_waits"] == 1


def test_summary_is_plain_text_with_tasks_sources_kpis_and_paths(make_config):
    config = make_config()
    config.published_dir.mkdir(parents=True)
    with duckdb.connect(str(config.published_dir / "opskpi.duckdb")) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute('CREATE TABLE marts.kpi_daily_snapshot (snapshot_date DATE, kpi VARCHAR, scope_type VARCHAR, '
                    '"window" VARCHAR, value DOUBLE)')
        con.executemany("INSERT INTO marts.kpi_daily_snapshot VALUES (?, ?, ?, ?, ?)", [
            (RUN_DATE, "availability", "org", "30d", 99.5), (RUN_DATE, "mtta_mean", "org", "30d", 125.0),
            (RUN_DATE, "mttr_mean", "org", "30d", 7200.0), (RUN_DATE, "deployment_frequency", "org", "30d", 0.5),
            (RUN_DATE, "change_failure_rate", "org", "30d", None), (RUN_DATE, "alerts_open_critical", "org", "1d", 3),
            (RUN_DATE, "cycle_time_p50", "org", "30d", 3 * 86400.0),
            (RUN_DATE, "availability", "service", "30d", 50.0), (date(2026, 11, 18), "mtta_mean", "org", "30d", 9.0),
        ])
    config.run_logs_dir.mkdir(parents=True)
    log_path(config.run_logs_dir, "manual__1").write_text(progress("OPS", "jira__issues", "done", 12, 3) + "\n"
                                                           + progress("acme/api", "github__pulls", "done", 40, 2,
                                                                      points=9) + "\n")
    out = io.StringIO()
    console = RunConsole(config, RUN_DATE, verbose=False, out=out)
    tasks = [("jira.extract", 1, "success", 1.4), ("github.extract", 4, "success", 9.6), ("done", 1, "skipped", None)]
    console.summary("manual__1", "success", 61.2, tasks)
    text = out.getvalue()
    assert "\x1b" not in text
    lines = text.splitlines()
    assert lines[:2] == ["run manual__1: success in 61 s",
                         "  jira.extract success 1s;  github.extract x4 success 10s;  done skipped"]
    assert "  jira" + " " * 12 + "3 requests" + " " * 8 + "12 records" in lines
    assert "  github" + " " * 10 + "2 requests" + " " * 8 + "40 records, 9 GraphQL points" in lines  # REST: none
    assert "  availability 99.500 %; MTTA 2 min; MTTR 2.0 h" in lines
    assert "  deployments 0.50/day; change failure rate n/a" in lines
    assert "  open critical alerts 3" in lines and "  cycle time 3.0 d" in lines
    for path in (config.published_dir / "report" / "latest" / "index.html", config.published_dir / "opskpi.duckdb",
                 log_path(config.run_logs_dir, "manual__1"), console.task_log):
        assert str(path) in text


def test_on_a_terminal_the_live_lines_show_the_streams_and_the_task_logs_stay_in_their_file(make_config):
    config = make_config()
    config.run_logs_dir.mkdir(parents=True)
    primary, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # 24 rows, 120 columns
    terminal = os.fdopen(secondary, "w")
    console = RunConsole(config, RUN_DATE, verbose=False, out=terminal)
    with console.running():
        print("a task's log line")
        log_path(config.run_logs_dir, "manual__2").write_text(
            progress("acme/api", "github__pulls", "reading", 1180, 14, waits=1, waited=3.0) + "\n")
        time.sleep(1.5)  # the display refreshes four times a second
    terminal.close()
    shown = b""
    while select.select([primary], [], [], 0.5)[0]:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal's other end is closed: all read
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    assert b"github__pulls" in shown and b"1,180 records" in shown and b"1 rate-limit waits (3.0 s)" in shown
    assert b"a task's log line" not in shown
    assert "a task's log line" in console.task_log.read_text()
