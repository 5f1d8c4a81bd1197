"""A full run against an API that fails 20 % of its requests publishes exactly what a clean run does.

The emulator injects every failure the client must ride out: 429 with Retry-After, 500, 502, 503,
timeouts (the answer never comes: the read timeout must fire), dropped connections, bodies cut in
half and 200s carrying an HTML error page. The steps run in-process (no Airflow) with the extracts
in parallel, like the DAG's mapped tasks; the read timeout is set to 1 s so a `timeout` fault costs
one second, not the default sixty.
"""

from __future__ import annotations

import time

import pytest

from emulator.server import start_emulator
from tests.reliability.marts import published_hashes, raw_invariants
from tests.reliability.runs import (
    EMULATOR_NOW,
    TOKENS,
    requests_made,
    reuse_dbt_parse,
    run_all,
    small_config,
    write_config,
)

pytestmark = pytest.mark.slow

KINDS = ("429", "500", "502", "503", "timeout", "reset", "truncate", "html")
FAULT_SEEDS = (1, 2, 3)


def test_runs_under_20_percent_faults_publish_the_same_marts_as_a_clean_run(tmp_path, monkeypatch):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    with start_emulator(seed=7, now=EMULATOR_NOW, fault_delay_s=1.5) as emu:
        clean_cfg = write_config(tmp_path / "clean.yml",
                                 small_config(tmp_path / "clean", emu.base_url, history_days=14))
        clean = run_all(clean_cfg, "clean")
        expected = published_hashes(clean_cfg.published_dir / "opskpi.duckdb")
        assert len(expected) >= 4 and clean["published"]["tables"]

        injected: dict[str, int] = {}
        for seed in FAULT_SEEDS:
            emu.app.faults.update(rate=0.2, kinds=list(KINDS), seed=seed, delay_s=1.5)
            before = dict(emu.app.faults.snapshot()["injected"])
            cfg = write_config(tmp_path / f"faulty{seed}.yml", small_config(
                tmp_path / f"faulty{seed}", emu.base_url, history_days=14, read_timeout="1s"))
            reuse_dbt_parse(clean_cfg, cfg)
            started = time.monotonic()
            faulty = run_all(cfg, f"faulty-{seed}")
            took = time.monotonic() - started
            after = emu.app.faults.snapshot()["injected"]
            run_faults = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            for kind, n in run_faults.items():
                injected[kind] = injected.get(kind, 0) + n
            attempts = requests_made(faulty["extracted"])
            assert sum(run_faults.values()) >= 0.1 * attempts, (run_faults, attempts)
            assert published_hashes(cfg.published_dir / "opskpi.duckdb") == expected, f"fault seed {seed}"
            raw_invariants(cfg.warehouse_path)
            print(f"fault run {seed}: {attempts} requests, {sum(run_faults.values())} faults {run_faults}, "
                  f"{took:.1f}s")
            emu.app.faults.update(rate=0.0)
    assert set(KINDS) <= {k for k, n in injected.items() if n}, f"every fault kind is exercised: {injected}"
