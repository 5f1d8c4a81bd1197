"""SIGKILL the pipeline at random and at its most delicate points; nothing is lost, duplicated or torn.

Each trial runs the pipeline in a child process (tests/reliability/crash_child.py) from the step the
previous trial died in to the end, as Airflow's retry of the killed task and its downstream tasks
would, and kills it with SIGKILL: at a deterministic crash point
(`OPSKPI_CRASH_AT`: mid-extract, a landing batch with its manifest written but not renamed, a
verdict written but its batch not moved, a warehouse transaction merged but not committed, a batch
committed, a published file built but not swapped in, swapped in but its Parquet not yet) or after a
random delay into a step (extract, load, dbt, publish). Some kills hit only the child, leaving dbt
orphaned and still writing; others hit its whole process group, killing dbt mid-write too. The trials
run back to back on one data directory, so every run also recovers from the crashes before it.

After every trial: raw tables have one row per key, no watermark runs ahead of the loaded data, no
batch is loaded twice. Throughout (a reader thread polls the published files the whole time): the
published DuckDB file and the Parquet set are each a complete version. At the end of each round the
marts equal a clean run's, and no `.partial` landing directory or temporary publish file is left.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator.server import start_emulator
from opskpi.publish import KEEP_VERSIONS, MIN_VERSION_AGE_S
from opskpi.warehouse import Warehouse
from tests.reliability.crash_child import STEPS
from tests.reliability.marts import RUN_BOOKKEEPING, parquet_hashes, published_hashes, raw_invariants
from tests.reliability.runs import EMULATOR_NOW, TOKENS, run_all, small_config, write_config

pytestmark = [pytest.mark.slow, pytest.mark.long]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Pipeline telemetry: one row per run or batch, or counts of them, so the retries after crashes change it
# by design (its own tests check it); every other mart must come out exactly as in a clean run.
TELEMETRY = RUN_BOOKKEEPING | {"marts.mart_security_coverage"}
SEED = int(os.environ.get("OPSKPI_CRASH_SEED", "20261119"))


@dataclass
class Trial:
    point: str | None = None  # OPSKPI_CRASH_AT
    after: str | None = None  # or: kill this long after the child announces this phase
    delay: tuple[float, float] = (0.0, 0.0)
    group: bool = False  # kill the child's whole process group (dbt too), not only the child


def rounds() -> list[list[Trial]]:
    """Two rounds (one day's run each), their kills in pipeline order: every crash point and every kind of kill
    once (a third round repeated them at ~60 s of CPU and proved nothing new)."""
    return [
        [
            Trial(point="extract.page@3"),
            Trial(point="landing.before_rename@2"),
            Trial(point="validate.verdict@3"),
            Trial(point="load.committed@5"),
            Trial(after="load", delay=(0.0, 0.2)),
            Trial(after="transform", delay=(1.0, 4.0)),  # only the child: dbt is orphaned and keeps writing
            Trial(point="publish.built"),
            Trial(after="publish", delay=(0.0, 0.15), group=True),
        ],
        [
            Trial(point="extract.page@5"),
            Trial(after="extract", delay=(0.3, 1.5)),
            Trial(point="load.merged@2"),
            Trial(after="load", delay=(0.0, 0.2), group=True),
            Trial(after="transform", delay=(1.0, 4.0), group=True),  # dbt killed mid-write
            Trial(point="publish.swapped_db"),
            Trial(after="publish", delay=(0.0, 0.2)),
        ],
    ]


class Reader(threading.Thread):
    """A BI user reading the published files over and over while the runs crash around them."""

    def __init__(self, published: Path, expected: dict[str, str]):
        super().__init__(daemon=True)
        self.published, self.expected = published, expected
        self.reads = 0
        self.problems: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            problem = check_published(self.published, self.expected)
            if problem:
                self.problems.append(problem)
            self.reads += 1
            self.stop.wait(0.3)


def check_published(published: Path, expected: dict[str, str]) -> str | None:
    """None if what a reader sees is absent or a complete version (equal to the clean run's marts)."""
    db = published / "opskpi.duckdb"
    if db.exists():
        try:
            got = {k: v for k, v in published_hashes(db).items() if k not in TELEMETRY}
        except Exception as exc:  # noqa: BLE001 - any failure to read is what we look for
            return f"published DuckDB unreadable: {exc}"
        if got != expected:
            return f"published DuckDB differs: {sorted(set(got.items()) ^ set(expected.items()))[:4]}"
    current = published / "current"
    if current.is_symlink():
        version = current.resolve()  # resolve once: read one version, as a careful reader does
        try:
            manifest = json.loads((version / "manifest.json").read_text())
            got = {k: v for k, v in parquet_hashes(version / "parquet").items() if k not in TELEMETRY}
        except Exception as exc:  # noqa: BLE001
            return f"published Parquet unreadable: {exc}"
        if {f"marts.{t}" for t in manifest["tables"]} - TELEMETRY != set(got) or got != expected:
            return f"published Parquet differs in {version.name}"
    return None


def kill_trial(trial: Trial, start: str, config_path: Path, run_id: str, rng: random.Random) -> tuple[int, str]:
    """Run the child and kill it as the trial says; returns (exit code, last phase it announced)."""
    env = {**os.environ, **TOKENS, "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("OPSKPI_CRASH_AT", None)
    if trial.point:
        env["OPSKPI_CRASH_AT"] = trial.point
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.crash_child", str(config_path), run_id, start],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    phase = "start"
    timer = None
    try:
        for line in child.stdout:
            if line.startswith("phase "):
                phase = line.split()[1]
                if trial.after == phase and timer is None:
                    delay = rng.uniform(*trial.delay)
                    kill = (lambda: os.killpg(child.pid, signal.SIGKILL)) if trial.group else child.kill
                    timer = threading.Timer(delay, _quietly(kill))
                    timer.start()
        code = child.wait(timeout=300)
    finally:
        if timer is not None:
            timer.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
    stderr = child.stderr.read()
    if code not in (0, -signal.SIGKILL):
        raise AssertionError(f"the child failed (exit {code}) instead of dying or finishing:\n{stderr[-3000:]}")
    return code, phase


def _quietly(kill):
    def run() -> None:
        try:
            kill()
        except ProcessLookupError:
            pass

    return run


def test_sigkill_at_random_points_then_rerun_loses_nothing(tmp_path, monkeypatch):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    rng = random.Random(SEED)
    print(f"crash trials with OPSKPI_CRASH_SEED={SEED}")
    with start_emulator(seed=7, now=EMULATOR_NOW, profile="stress") as emu:
        sources = ("pagerduty", "github")
        clean = write_config(tmp_path / "clean.yml",
                             small_config(tmp_path / "clean", emu.base_url, sources=sources, history_days=14))
        run_all(clean, "clean")
        expected = {k: v for k, v in published_hashes(clean.published_dir / "opskpi.duckdb").items()
                    if k not in TELEMETRY}
        assert len(expected) >= 4

        config_path = tmp_path / "crash.yml"
        raw = small_config(tmp_path / "crash", emu.base_url, sources=sources, history_days=14)
        # Reruns re-read from the watermark minus the lookback: keep that inside the clean run's history,
        # or the crashed runs would (rightly) load more than the clean one.
        raw["sources"]["pagerduty"]["lookback"] = "14d"
        raw["sources"]["github"]["workflow_runs_lookback"] = "14d"
        config = write_config(config_path, raw)
        warehouse = Warehouse(config.warehouse_path, lock_timeout_s=300)
        reader = Reader(config.published_dir, expected)
        reader.start()
        kills, phases = 0, []
        started = time.monotonic()
        try:
            for number, trials in enumerate(rounds()):
                start = "extract"
                for i, trial in enumerate(trials):
                    t0 = time.monotonic()
                    code, phase = kill_trial(trial, start, config_path, f"crash-{number}-{i}", rng)
                    print(f"  round {number} trial {i}: from {start}, {trial.point or trial.after}: "
                          f"{'killed in ' + phase if code else 'finished'} after {time.monotonic() - t0:.1f}s")
                    kills += code == -signal.SIGKILL
                    phases.append(phase if code else f"{phase}(finished)")
                    # Retry the killed step and everything after it; after a finished run, start a new one.
                    start = phase if code and phase in STEPS else "extract"
                    with warehouse.lock():  # waits for an orphaned dbt to finish
                        if config.warehouse_path.exists():
                            _check_raw(config.warehouse_path)
                    assert check_published(config.published_dir, expected) is None
                # Recover: the last round reruns everything, the others retry from the failed step.
                code, _ = kill_trial(Trial(), start, config_path, f"recover-{number}", rng)
                assert code == 0
                if number == len(rounds()) - 1:  # and a whole new run on top, extract included
                    code, _ = kill_trial(Trial(), "extract", config_path, "final", rng)
                    assert code == 0
                assert published_hashes(config.published_dir / "opskpi.duckdb").keys() >= expected.keys()
                assert check_published(config.published_dir, expected) is None, f"after round {number}"
        finally:
            reader.stop.set()
            reader.join(timeout=30)
        took = time.monotonic() - started
        print(f"{kills} kills in {took:.0f}s, phases hit: {phases}; reader checked the published files "
              f"{reader.reads} times")

    assert not reader.problems, reader.problems[:5]
    assert reader.reads > 20
    assert kills >= 14, phases
    hit = {p.split("(")[0] for p in phases}
    assert {"extract", "load", "transform", "publish"} <= hit, phases
    _check_raw(config.warehouse_path)
    leftovers = [p for p in config.landing_dir.rglob("*") if p.name.endswith(".partial")]
    assert not leftovers, f"unfinished landing batches left behind: {leftovers}"
    published = config.published_dir
    assert not list(published.glob(".*tmp*")) and not list(published.glob(".*.new")), list(published.iterdir())
    versions = [p for p in (published / "versions").iterdir()]
    assert all((v / "manifest.json").exists() for v in versions)
    # Pruning keeps KEEP_VERSIONS, plus any version still young enough for a slow reader to be using.
    old = sorted(versions)[:-KEEP_VERSIONS]
    assert all(time.time() - v.stat().st_mtime < MIN_VERSION_AGE_S for v in old), old
    assert not config.quarantine_dir.exists() or not any(config.quarantine_dir.rglob("_manifest.json")), (
        "a crash must never get a good batch quarantined")


def _check_raw(path: Path) -> None:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        has_meta = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'meta' "
                               "AND table_name IN ('batches', 'watermarks')").fetchone()[0] == 2
        if has_meta:
            partial = con.execute("SELECT count(*) FROM meta.batches WHERE batch_id LIKE '%.partial'").fetchone()[0]
            assert partial == 0, "an unfinished landing batch was loaded"
    if has_meta:
        raw_invariants(path)
