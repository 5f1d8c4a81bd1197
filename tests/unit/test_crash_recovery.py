"""What a crash leaves behind is ignored or cleaned up, and one bad batch never wedges the pipeline.

Fast, single-process counterparts of tests/reliability/test_crash_safety.py, one per defect it found.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from extractors.landing import (
    MANIFEST,
    LandingWriter,
    complete_batches,
    new_batch_id,
    sweep_partials,
    write_json_atomic,
)
from extractors.sources import build_source
from extractors.streams import Partition
from opskpi import pipeline
from opskpi.load import LOAD_ERROR_FILE, VALIDATION_FILE
from opskpi.publish import clean_stale, publish
from opskpi.warehouse import Warehouse

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def incident(id_, created="2024-01-01T10:00:00Z", resolved="2024-01-01T11:00:00Z"):
    return {"id": id_, "status": "resolved", "urgency": "high", "service": {"id": "PSVC1"},
            "created_at": created, "updated_at": resolved, "resolved_at": resolved}


def incidents_stream(config):
    return build_source("pagerduty", config.source_settings("pagerduty", with_secret=False)).stream("incidents")


def ctx_for(config):
    return pipeline.RunContext.for_date(config, date(2024, 1, 2), "r1", now=datetime(2024, 1, 3, tzinfo=UTC))


def test_a_partial_batch_with_its_manifest_is_never_read(make_config):
    """A crash between writing the manifest and the rename leaves `<batch>.partial/_manifest.json`."""
    config = make_config()
    writer = LandingWriter(config.landing_dir, incidents_stream(config), new_batch_id())
    writer.add(incident("A"), Partition(""), 1)
    writer._flush()
    write_json_atomic(writer.dir / MANIFEST, {"batch_id": writer.batch_id})  # as commit() does before renaming
    assert (writer.dir / MANIFEST).exists()
    assert complete_batches(config.landing_dir, "pagerduty", "incidents") == []


def test_partials_of_dead_writers_are_swept_and_live_ones_kept(make_config):
    config = make_config()
    stream = incidents_stream(config)
    live = LandingWriter(config.landing_dir, stream, new_batch_id())  # this process: alive
    dead = LandingWriter(config.landing_dir, stream, new_batch_id())
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (dead.dir / "_owner.json").write_text(json.dumps({"pid": int(gone.stdout), "host": os.uname().nodename}))
    ownerless = config.landing_dir / "pagerduty" / "incidents" / "20000101T000000000000Z-abcdef.partial"
    ownerless.mkdir()
    os.utime(ownerless, (time.time() - 3 * 86400,) * 2)
    removed = sweep_partials(config.landing_dir)
    assert sorted(removed) == sorted([dead.dir, ownerless])
    assert live.dir.exists()
    live.abort()


def test_a_crash_between_verdict_and_quarantine_is_finished_by_the_next_validate(make_config):
    config = make_config()
    writer = LandingWriter(config.landing_dir, incidents_stream(config), new_batch_id())
    writer.add(incident("B", resolved="2024-01-01T09:00:00Z"), Partition(""), 1)
    batch = writer.commit({"run_id": "r1"})
    write_json_atomic(batch / VALIDATION_FILE, {"success": False, "failures": [
        {"expectation": "expect_column_pair_values_a_to_be_greater_than_b", "severity": "critical",
         "kwargs": {"column_A": "resolved_at__utc", "column_B": "created_at__utc"}}]})
    # ...and the process died before moving the batch: the next validate must not leave it in landing.
    with pytest.raises(pipeline.GuardFailure, match="source pagerduty, stream incidents.*quarantined"):
        pipeline.validate(config, "pagerduty", ctx_for(config))
    assert not batch.exists()
    assert (config.quarantine_dir / "pagerduty" / "incidents" / batch.name / MANIFEST).exists()


def test_a_batch_the_warehouse_refuses_is_quarantined_and_later_batches_still_load(make_config):
    """Defence in depth: a value that passed the guard but does not cast (an old batch, a guard gap)."""
    config = make_config()
    stream = incidents_stream(config)
    bad = LandingWriter(config.landing_dir, stream, new_batch_id())
    bad.add(incident("X"), Partition(""), 1)
    bad = bad.commit({"run_id": "r1"})
    part = bad / "part-00000.parquet"
    table = pq.read_table(part)
    table = table.set_column(table.schema.get_field_index("created_at"), "created_at",
                             pa.array(["2024-02-30T10:00:00Z"]))  # a date that does not exist
    pq.write_table(table, part)
    (bad / VALIDATION_FILE).write_text(json.dumps({"success": True}))
    good = LandingWriter(config.landing_dir, stream, new_batch_id())
    good.add(incident("Y"), Partition(""), 1)
    good = good.commit({"run_id": "r1"})
    (good / VALIDATION_FILE).write_text(json.dumps({"success": True}))

    with pytest.raises(pipeline.GuardFailure, match=f"batch {bad.name} refused by the warehouse"):
        pipeline.load(config, ctx_for(config))
    quarantined = config.quarantine_dir / "pagerduty" / "incidents" / bad.name
    assert "timestamp field value out of range" in json.loads((quarantined / LOAD_ERROR_FILE).read_text())["error"]
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT id FROM raw.pagerduty__incidents").fetchall() == [("Y",)]
    assert pipeline.load(config, ctx_for(config)) == {}, "the next load is not blocked"


def test_stale_publish_leftovers_are_removed_and_readers_never_see_them(tmp_path):
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    with warehouse.connect() as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.m AS SELECT 1 AS v")
    out = tmp_path / "published"
    publish(warehouse, out, "r1")
    # What a publish killed half way leaves: a temporary DuckDB file (and its WAL), a half-made symlink,
    # a version directory without its manifest.
    (out / ".opskpi.20990101T000000000000Z.duckdb.tmp").write_bytes(b"partial")
    (out / ".opskpi.20990101T000000000000Z.duckdb.tmp.wal").write_bytes(b"wal")
    os.symlink("versions/nowhere", out / ".current.new")
    (out / "versions" / "20990101T000000000000Z" / "parquet").mkdir(parents=True)
    removed = clean_stale(out)
    assert len(removed) == 4
    second = publish(warehouse, out, "r2")
    assert sorted(p.name for p in out.iterdir()) == ["current", "docs", "manifest.json", "opskpi.duckdb",
                                                      "parquet", "versions"]
    assert json.loads((out / "manifest.json").read_text())["version"] == second["version"]
    assert (out / "parquet" / "m.parquet").exists()


FAKE_DBT = textwrap.dedent("""\
    #!{python}
    import pathlib, time
    pathlib.Path({started!r}).touch()
    time.sleep(8)
""")


def test_dbt_keeps_the_warehouse_lock_when_its_parent_is_killed(make_config, tmp_path):
    """Without the inherited lock, a run killed during `dbt build` frees the warehouse while dbt still writes."""
    config = make_config()
    fake = tmp_path / "dbt"
    started_marker = tmp_path / "fake-dbt-started"
    fake.write_text(FAKE_DBT.format(python=sys.executable, started=str(started_marker)))
    fake.chmod(0o755)
    script = textwrap.dedent(f"""
        import sys
        from datetime import date
        from opskpi import pipeline
        from opskpi.config import parse_config
        from tests.conftest import config_dict
        pipeline.dbt_session_command = lambda *args: [{str(fake)!r}]
        config = parse_config(config_dict(data_dir={str(config.data_dir)!r}), {str(tmp_path)!r})
        print("transform", flush=True)
        pipeline.transform(config, pipeline.RunContext.for_date(config, date(2024, 1, 2), "r"))
    """)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    child = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        assert child.stdout.readline().strip() == "transform"
        # Kill the run only once its dbt (the fake) runs under the lock: a fixed sleep raced the run's own start-up
        # on a loaded machine (the parent died before it started dbt, and the lock was rightly free at once).
        deadline = time.monotonic() + 120
        while not started_marker.exists():
            assert child.poll() is None, "the run ended before it started dbt"
            assert time.monotonic() < deadline, "the run did not start dbt within 120 s"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        started = time.monotonic()
        with Warehouse(config.warehouse_path, lock_timeout_s=30).lock():
            waited = time.monotonic() - started
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)  # the orphaned fake dbt, if still there
        except ProcessLookupError:
            pass
    assert waited > 1.0, "the orphaned dbt still held the lock: the next run waited for it"
