"""Two runs at once: the warehouse lock serialises writers across processes, and says who holds it.

- Several processes write the warehouse at the same time through `Warehouse.connect()`: their
  critical sections never interleave and no write is lost.
- A process that cannot get the lock within `OPSKPI_LOCK_TIMEOUT_S` fails with a message naming the
  holder (pid, host, since when) and what to do; one that can wait, waits, and says so in the log.
- A second `opskpi run` on the same data directory is refused at once (exit 3), before any request.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from emulator.server import start_emulator
from opskpi import cli, pipeline
from opskpi.warehouse import RUN_LOCK, Warehouse, WarehouseBusy

PROJECT_ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent("""
    import os, sys, time
    from opskpi.warehouse import Warehouse
    path, rounds = sys.argv[1], int(sys.argv[2])
    for i in range(rounds):
        with Warehouse(path).connect() as con:
            con.execute("CREATE TABLE IF NOT EXISTS log (seq BIGINT, pid BIGINT, i BIGINT, what VARCHAR)")
            for what in ("begin", "middle", "end"):
                con.execute("INSERT INTO log SELECT count(*), ?, ?, ? FROM log", [os.getpid(), i, what])
                time.sleep(0.02)
""")

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from opskpi.warehouse import Warehouse, run_lock
    kind, path = sys.argv[1], Path(sys.argv[2])
    lock = Warehouse(path).lock() if kind == "warehouse" else run_lock(path)
    with lock:
        print("locked", flush=True)
        sys.stdin.readline()  # hold until the test says so
""")


def python(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen([sys.executable, "-c", *args], cwd=PROJECT_ROOT, env=env, text=True, **kwargs)


def hold(kind: str, path: Path) -> subprocess.Popen:
    holder = python(HOLDER, kind, str(path), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def release(holder: subprocess.Popen) -> None:
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.wait(timeout=30) == 0


def test_writers_in_several_processes_never_interleave(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    writers = [python(WRITER, str(path), "6", stderr=subprocess.PIPE) for _ in range(3)]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    with duckdb.connect(str(path), read_only=True) as con:
        log = con.execute("SELECT seq, pid, i, what FROM log ORDER BY seq").fetchall()
    assert len(log) == 3 * 6 * 3, "no write lost"
    assert [r[0] for r in log] == list(range(len(log))), "one writer at a time: the sequence has no gaps or repeats"
    for start in range(0, len(log), 3):  # every critical section is begin, middle, end of one writer, unbroken
        section = log[start:start + 3]
        assert [r[3] for r in section] == ["begin", "middle", "end"], section
        assert len({(r[1], r[2]) for r in section}) == 1, section
    assert len({r[1] for r in log}) == 3


def test_a_step_that_cannot_get_the_lock_names_the_holder_and_the_fix(make_config, monkeypatch):
    config = make_config()
    ctx = pipeline.RunContext.for_date(config, date(2026, 11, 19), "second", now=datetime(2026, 11, 20, tzinfo=UTC))
    holder = hold("warehouse", config.warehouse_path)
    try:
        monkeypatch.setenv("OPSKPI_LOCK_TIMEOUT_S", "1")
        started = time.monotonic()
        with pytest.raises(WarehouseBusy) as err:
            pipeline.load(config, ctx)
        assert time.monotonic() - started < 10
    finally:
        release(holder)
    message = str(err.value)
    assert f"pid {holder.pid} on " in message and " since 20" in message, message
    assert str(config.warehouse_path) in message
    assert "wait for that run to finish" in message and "OPSKPI_LOCK_TIMEOUT_S" in message
    pipeline.load(config, ctx)  # the holder is gone: the same step now goes through


def test_a_step_that_can_wait_waits_then_proceeds(make_config, caplog):
    config = make_config()
    ctx = pipeline.RunContext.for_date(config, date(2026, 11, 19), "second", now=datetime(2026, 11, 20, tzinfo=UTC))
    holder = hold("warehouse", config.warehouse_path)
    caplog.set_level(logging.WARNING)
    releaser = python(f"import os, time; time.sleep(1.5); os.kill({holder.pid}, 15)")
    started = time.monotonic()
    pipeline.load(config, ctx)  # blocks until the holder is gone
    waited = time.monotonic() - started
    releaser.wait(timeout=30)
    holder.wait(timeout=30)
    assert waited >= 1.0
    assert f"the warehouse is in use by pid {holder.pid}" in caplog.text


def test_a_second_opskpi_run_on_the_same_data_is_refused_before_any_request(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TEST_PD_TOKEN", "pd-demo-token")
    with start_emulator(profile="stress") as emu:
        config_path = tmp_path / "config.yml"
        data_dir = tmp_path / "data"
        config_path.write_text(yaml.safe_dump({
            "data_dir": str(data_dir),
            "sources": {"pagerduty": {"base_url": f"{emu.base_url}/pagerduty", "token_env": "TEST_PD_TOKEN"}},
        }))
        data_dir.mkdir()
        holder = hold("run", data_dir)
        try:
            code = cli.main(["run", "--config", str(config_path), "--date", "2026-11-19"])
        finally:
            release(holder)
        served = sum(sum(routes.values()) for routes in emu.stats().values())
    err = capsys.readouterr().err
    assert code == 3, err
    assert f"another opskpi run is using the data directory {data_dir} (pid {holder.pid} on " in err
    assert "wait for it to finish" in err
    assert served == 0
    assert (data_dir / RUN_LOCK).exists() and not (data_dir / "airflow").exists(), "refused before Airflow started"


def test_the_lock_does_not_survive_its_holder(tmp_path):
    """A holder killed with SIGKILL leaves no lock behind: the kernel drops an flock with its process."""
    path = tmp_path / "warehouse.duckdb"
    holder = hold("warehouse", path)
    holder.kill()
    holder.wait(timeout=30)
    with Warehouse(path, lock_timeout_s=2).connect() as con:
        assert con.execute("SELECT 1").fetchone() == (1,)


BI_TOOL = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)  # what a BI tool pointed at the live warehouse does
    print("open", flush=True)
    sys.stdin.readline()
""")


def test_a_bi_tool_holding_the_live_warehouse_is_named_with_the_published_copy(make_config, capsys):
    """A program that opened data/warehouse.duckdb itself holds DuckDB's own lock, not ours: the step (and the CLI)
    say so and point to the published copy instead of DuckDB's raw lock error (issue 17, item 11)."""
    config = make_config()
    ctx = pipeline.RunContext.for_date(config, date(2026, 11, 19), "bi", now=datetime(2026, 11, 20, tzinfo=UTC))
    pipeline.load(config, ctx)  # the warehouse exists
    tool = python(BI_TOOL, str(config.warehouse_path), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert tool.stdout.readline().strip() == "open"
        with pytest.raises(WarehouseBusy) as err:
            pipeline.load(config, ctx)
    finally:
        tool.stdin.write("\n")
        tool.stdin.flush()
        assert tool.wait(timeout=30) == 0
    message = str(err.value)
    assert f"the live warehouse {config.warehouse_path} is open in another program" in message
    assert f"(PID {tool.pid})" in message, message
    assert str(config.data_dir / "published" / "opskpi.duckdb") in message and "docs/bi.md" in message
    assert "Could not set lock" not in message
    pipeline.load(config, ctx)  # the program is gone: the step goes through
