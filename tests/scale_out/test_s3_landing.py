"""Landing on an object store, for real: the demo's extract → validate → load on a moto S3 server (loopback).

1. The demo (config/demo.yml against the demo's emulator) run with `landing.url: s3://…` gives the same raw tables
   and the same marts, compared row by row, as the same run landing on the local disk; nothing lands on the local
   disk, no writer marker is left, the published Parquet mirrored to the store (`publish.parquet_url`) equals the
   local published set row by row, and the secret key and session token appear nowhere: not in the logs, not in
   any object of the bucket, not in the warehouse or the published files (tests/canary.py also scans every file
   under the test's directory, the bucket's copy included).
2. A writer SIGKILLed between part uploads (crash point `landing.part_written`, after the 4th part) leaves parts
   and no manifest: validate and load never read them, the next extract sweeps them (its writer is gone), and
   after the rerun's extract, validate and load the raw tables equal the clean run's row by row (nothing lost,
   nothing loaded twice).
3. botocore's request log at DEBUG (which carries the session token header) is redacted.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from emulator.server import start_emulator
from extractors.landing import LandingWriter, complete_batches, new_batch_id
from extractors.landing_store import SECRET_ENV
from extractors.sources import build_source
from extractors.streams import Partition
from opskpi import pipeline
from opskpi.config import Config, load_config
from opskpi.demo import DEMO_CONFIG, DEMO_NOW, DEMO_TOKENS
from tests.canary import leaks_under
from tests.reliability.marts import RUN_BOOKKEEPING, raw_invariants, row_differences, table_rows
from tests.reliability.runs import context, run_all
from tests.scale_out.conftest import S3_ENV

pytestmark = [pytest.mark.scale_out, pytest.mark.slow]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LANDING_PREFIX = "opskpi/landing"


@pytest.fixture(scope="module")
def emulator():
    """The demo's emulator (opskpi/demo.py): seed 42, its clock, the healthy profile."""
    with start_emulator(seed=42, now=DEMO_NOW, profile="healthy") as emu:
        yield emu


@pytest.fixture(scope="module")
def demo_env(emulator):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPSKPI_EMULATOR_URL", emulator.base_url)
        for name, value in DEMO_TOKENS.items():
            patch.setenv(name, value)
        yield


def demo_config(path: Path, data_dir: Path, landing: dict | None = None, publish: dict | None = None) -> Config:
    """config/demo.yml with its own data directory and, given them, those landing and publish sections."""
    raw = yaml.safe_load(DEMO_CONFIG.read_text())
    raw["data_dir"] = str(data_dir)
    raw.update({key: value for key, value in (("landing", landing), ("publish", publish)) if value})
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return load_config(path)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, demo_env) -> Config:
    """The reference: the demo run landing on the local disk (today's behaviour)."""
    base = tmp_path_factory.mktemp("local-landing")
    config = demo_config(base / "demo.yml", base / "data")
    run_all(config, "local-run")
    return config


def s3_landing(bucket: str, endpoint: str) -> dict:
    return {"url": f"s3://{bucket}/{LANDING_PREFIX}", "endpoint_url": endpoint}


def mirrored_parquet_differences(config: Config) -> list[str]:
    """The object-store mirror of the published Parquet set (`publish.parquet_url`) against the local one."""
    root = config.published_mirror
    pointer = json.loads((root / "current.json").read_text())
    local = config.published_dir / "parquet"
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register_filesystem(root.fs)
        names = sorted(p.stem for p in local.glob("*.parquet"))
        rows = lambda where: {n: sorted(map(repr, con.execute(f"SELECT * FROM read_parquet('{where}/{n}.parquet')")  # noqa: E731
                                            .fetchall())) for n in names}
        return row_differences(rows(local), rows(f"{root}/{pointer['parquet'].rstrip('/')}")) + (
            [] if names else ["nothing published"])


def compare_with(reference: Config, config: Config, marts: bool = True) -> list[str]:
    """Row-by-row differences of the raw tables (warehouse) and, with `marts`, of every published mart (run
    bookkeeping aside)."""
    raw = row_differences(table_rows(reference.warehouse_path, ("raw",)), table_rows(config.warehouse_path, ("raw",)))
    if not marts:
        return raw
    marts_of = lambda c: {name: rows for name, rows in table_rows(c.published_dir / "opskpi.duckdb", ("marts",)).items()  # noqa: E731
                          if name not in RUN_BOOKKEEPING}
    return raw + row_differences(marts_of(reference), marts_of(config))


def writer_markers(config: Config) -> list[str]:
    root = config.landing_dir
    return root.fs.find(f"{root.path}/_writers")


def copy_bucket(config: Config, target: Path) -> int:
    """Every object of the landing, quarantine and published prefixes, copied under `target` (the canary scan reads
    them)."""
    count = 0
    for root in (config.landing_dir, config.quarantine_dir, config.published_mirror):
        for key in root.fs.find(root.path):
            out = target / key
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(root.fs.cat_file(key))
            count += 1
    return count


def test_demo_landing_on_s3_gives_the_marts_of_local_landing(tmp_path, local_run, demo_env, bucket, moto_endpoint,
                                                              caplog):
    caplog.set_level(logging.INFO)
    config = demo_config(tmp_path / "demo.yml", tmp_path / "data", s3_landing(bucket, moto_endpoint),
                         publish={"parquet_url": f"s3://{bucket}/opskpi/published"})
    run_all(config, "s3-run")

    assert not (tmp_path / "data" / "landing").exists(), "an object-store run must land nothing on the local disk"
    streams = pipeline._stream_names(config)
    landed = {(s, n): complete_batches(config.landing_dir, s, n) for s, n in streams}
    assert all(len(batches) == 1 for batches in landed.values()), {k: len(v) for k, v in landed.items()}
    assert str(next(iter(landed.values()))[0]).startswith(f"s3://{bucket}/{LANDING_PREFIX}/")
    assert writer_markers(config) == [], "every writer removes its marker once its manifest is written"
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        loaded = con.execute("SELECT count(*) FROM meta.batches WHERE status = 'loaded'").fetchone()[0]
    assert loaded == len(streams)

    differences = compare_with(local_run, config)
    assert not differences, "\n".join(differences)
    differences = mirrored_parquet_differences(config)
    assert not differences, "\n".join(differences)

    # No secret of the object store anywhere: the bucket's objects (copied under tmp_path, which tests/canary.py
    # scans again after the test), the data directory (warehouse, published files, logs) and the captured logs.
    assert copy_bucket(config, tmp_path / "bucket-copy") > len(streams)
    (tmp_path / "captured.log").write_text(caplog.text)
    secrets = {os.environ[name] for name in SECRET_ENV}
    assert secrets == {S3_ENV["AWS_SECRET_ACCESS_KEY"], S3_ENV["AWS_SESSION_TOKEN"]}
    assert leaks_under(tmp_path, secrets) == []


def test_a_writer_killed_between_part_uploads_loses_and_duplicates_nothing(tmp_path, local_run, demo_env, bucket,
                                                                          moto_endpoint):
    config_path = tmp_path / "demo.yml"
    config = demo_config(config_path, tmp_path / "data", s3_landing(bucket, moto_endpoint))
    child = subprocess.run(
        [sys.executable, "-m", "tests.reliability.crash_child", str(config_path), "crashed-run", "extract"],
        env={**os.environ, "OPSKPI_CRASH_AT": "landing.part_written@4"}, cwd=PROJECT_ROOT,
        capture_output=True, text=True, timeout=900)
    assert child.returncode == -signal.SIGKILL, child.stdout[-2000:] + child.stderr[-3000:]

    # What the killed writer left: its marker and the parts of one batch, no manifest.
    markers = writer_markers(config)
    assert len(markers) == 1, markers
    source, stream, marker = markers[0].split("/")[-3:]
    partial = config.landing_dir / source / stream / marker.removesuffix(".json")
    parts = partial.fs.find(partial.path)
    assert parts and all(Path(p).name.startswith("part-") for p in parts), parts
    assert partial.name not in {b.name for b in complete_batches(config.landing_dir, source, stream)}

    # The readers never see it: validate and load what did land.
    ctx = context(config, "crashed-run")
    for name in config.enabled_sources():
        pipeline.validate(config, name, ctx)
    pipeline.load(config, ctx)
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        seen = {r[0] for r in con.execute(
            "SELECT batch_id FROM meta.batches UNION ALL SELECT batch_id FROM meta.validation_results").fetchall()}
    assert seen and partial.name not in seen

    # The rerun (Airflow's retry of the extracts and what follows): its first extract sweeps the dead writer's
    # parts, then everything lands and loads. The raw tables are what the marts are built from: equal raw tables,
    # row by row, mean nothing was lost or duplicated (test 1 shows the marts follow).
    ctx = context(config, "rerun")
    for step in ("extract", "validate"):
        for name in config.enabled_sources():
            getattr(pipeline, step)(config, name, ctx)
    pipeline.load(config, ctx)
    assert partial.fs.find(partial.path) == [], "the partial batch was not swept"
    assert writer_markers(config) == []
    raw_invariants(config.warehouse_path)  # one row per key, no batch loaded twice, no watermark ahead of the data
    differences = compare_with(local_run, config, marts=False)
    assert not differences, "\n".join(differences)


def test_the_object_store_clients_debug_log_is_redacted(tmp_path, bucket, moto_endpoint, make_config, caplog):
    """botocore logs each request with its headers at DEBUG, the session token among them: it must come out
    masked, wherever the log goes."""
    config = make_config(landing=s3_landing(bucket, moto_endpoint))
    stream = next(s for s in build_source("pagerduty", config.source_settings("pagerduty", with_secret=False)).streams
                  if s.name == "incidents")
    with caplog.at_level(logging.DEBUG):
        writer = LandingWriter(config.landing_dir, stream, new_batch_id())
        writer.add({"id": "P1", "created_at": "2024-01-01T10:00:00Z", "updated_at": "2024-01-01T10:00:00Z"},
                   Partition(id="", values={}))
        batch = writer.commit({"run_id": "debug-log"})
    assert complete_batches(config.landing_dir, "pagerduty", "incidents") == [batch]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "X-Amz-Security-Token" in text, "botocore's request log was not captured: the test proves nothing"
    for name in SECRET_ENV:
        assert os.environ[name][:6] not in text, f"{name} in the object-store client's log"
