"""A full run against an API that fails 30 % of its requests publishes exactly what a clean run does.

The emulator injects every failure the client must ride out: 429 with Retry-After, 500, 502, 503,
timeouts (the answer never comes: the read timeout must fire), dropped connections, bodies cut in
half and 200s carrying an HTML error page. After a clean run, three runs go through those faults at
once, each into its own data directory; each must publish marts identical, table by table, to the
clean run's. The steps run in-process (no Airflow) with the extracts in parallel, like the DAG's
tasks; the read timeout is set to 1 s so a `timeout` fault costs one second, not the default sixty.
Since GitHub's per-record streams moved to GraphQL a run makes only a few dozen requests, so the rate is 30 %
(each run then meets a fault with probability 1 - 0.7^30, and the emulator deals every kind once per nine faults);
a request fails for good with probability 0.3^attempts, so they get 12 tries (5e-7 each) instead of the default 8.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from emulator.server import start_emulator
from tests.reliability.marts import RUN_BOOKKEEPING, published_hashes, raw_invariants
from tests.reliability.runs import (
    EMULATOR_NOW,
    TOKENS,
    requests_made,
    retries_made,
    run_all,
    small_config,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.long]

KINDS = ("429", "500", "502", "503", "timeout", "reset", "truncate", "html")
FAULT_RUNS = 3


def data_hashes(config) -> dict[str, str]:
    """The published marts' fingerprints, without the run's own bookkeeping (timings, source ages)."""
    hashes = published_hashes(config.published_dir / "opskpi.duckdb")
    return {name: digest for name, digest in hashes.items() if name not in RUN_BOOKKEEPING}


def test_runs_under_20_percent_faults_publish_the_same_marts_as_a_clean_run(tmp_path, monkeypatch):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    with start_emulator(seed=7, now=EMULATOR_NOW, fault_delay_s=1.5, profile="stress") as emu:
        clean_cfg = write_config(tmp_path / "clean.yml",
                                 small_config(tmp_path / "clean", emu.base_url, history_days=14))
        clean = run_all(clean_cfg, "clean")
        expected = data_hashes(clean_cfg)
        assert len(expected) >= 4 and clean["published"]["tables"]

        configs = []
        for n in range(FAULT_RUNS):
            cfg = write_config(tmp_path / f"faulty{n}.yml", small_config(
                tmp_path / f"faulty{n}", emu.base_url, history_days=14, read_timeout="1s",
                max_attempts=12))
            configs.append(cfg)
        emu.app.faults.update(rate=0.3, kinds=list(KINDS), seed=11, delay_s=1.5)
        started = time.monotonic()
        # The runs overlap, as a backfill beside the nightly run would (separate data directories).
        with ThreadPoolExecutor(FAULT_RUNS) as pool:
            runs = list(pool.map(lambda c: run_all(c[1], f"faulty-{c[0]}"), enumerate(configs)))
        took = time.monotonic() - started
        injected = emu.app.faults.snapshot()["injected"]
        emu.app.faults.update(rate=0.0)

    for n, (cfg, faulty) in enumerate(zip(configs, runs, strict=True)):
        attempts, retries = requests_made(faulty["extracted"]), retries_made(faulty["extracted"])
        print(f"fault run {n}: {attempts} requests, {retries} failed and retried")
        assert retries >= 1, (n, retries, attempts)  # each run went through faults
        assert data_hashes(cfg) == expected, f"fault run {n}"
        raw_invariants(cfg.warehouse_path)
    print(f"{FAULT_RUNS} fault runs in {took:.1f}s; faults injected: {injected}")
    # Every injected fault was retried; a run may retry more: with read_timeout 1 s, a response slowed by a busy
    # machine (not by the emulator) times out too, and retrying it is right.
    assert sum(retries_made(r["extracted"]) for r in runs) >= sum(injected.values()), "every fault was retried"
    assert set(KINDS) <= {k for k, n in injected.items() if n}, f"every fault kind is exercised: {injected}"
