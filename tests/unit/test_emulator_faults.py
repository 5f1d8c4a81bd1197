"""Injected faults look like real failures, replay exactly, and the engine rides them out."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest
import requests

from emulator.server import start_emulator
from extractors.engine import extract_streams
from extractors.http import ExtractError, HttpClient, RetryPolicy
from extractors.landing import read_manifest
from extractors.sources import build_source
from extractors.streams import Window

PD = {"Authorization": "Token token=pd-demo-token"}
WINDOW = Window(start=datetime(2026, 8, 1, tzinfo=UTC), end=datetime(2026, 11, 20, tzinfo=UTC))


def client(base_url: str, attempts: int) -> HttpClient:
    return HttpClient(base_url, headers=PD, timeout=(1.0, 0.5), sleep=lambda s: None,
                      retry=RetryPolicy(max_attempts=attempts))


@pytest.mark.parametrize(("kind", "problem"), [
    ("429", r"rate limited \(HTTP 429\)"),
    ("500", "HTTP 500"),
    ("502", "HTTP 502"),
    ("503", "HTTP 503"),
    ("timeout", "Timeout|ConnectionError"),  # depending on who notices first
    ("reset", "ConnectionError"),
    ("truncate", "Error"),
    ("html", "body that is not JSON"),
])
def test_each_fault_is_seen_as_a_transport_failure(kind, problem):
    with start_emulator(fault_rate=1.0, fault_kinds=(kind,), fault_delay_s=0.8, profile="stress") as emu:
        with pytest.raises(ExtractError, match=problem):
            client(emu.pagerduty_url, attempts=1).request_json("GET", "/services")
        assert emu.app.faults.snapshot()["injected"] == {kind: 1}


def test_slow_fault_still_answers():
    with start_emulator(fault_rate=1.0, fault_kinds=("slow",), fault_delay_s=0.2, profile="stress") as emu:
        body, _ = client(emu.pagerduty_url, attempts=1).request_json("GET", "/services")
    assert body["services"]


def test_same_fault_seed_replays_the_same_faults():
    def sequence(seed):
        with start_emulator(fault_rate=0.5, fault_kinds=("500", "502", "503"), fault_seed=seed,
                            profile="stress") as emu:
            return [requests.get(f"{emu.pagerduty_url}/services", headers=PD, timeout=5).status_code
                    for _ in range(30)]

    assert sequence(3) == sequence(3)
    assert sequence(3) != sequence(4)
    assert {200, 500, 502, 503} <= set(sequence(3))


def test_faults_can_be_changed_at_run_time():
    with start_emulator(profile="stress") as emu:
        assert requests.get(f"{emu.pagerduty_url}/services", headers=PD, timeout=5).status_code == 200
        reply = requests.post(f"{emu.base_url}/__emulator/faults", json={"rate": 1.0, "kinds": ["503"]}, timeout=5)
        assert reply.json()["rate"] == 1.0
        assert requests.get(f"{emu.pagerduty_url}/services", headers=PD, timeout=5).status_code == 503
        bad = requests.post(f"{emu.base_url}/__emulator/faults", json={"kinds": ["gremlins"]}, timeout=5)
        assert bad.status_code == 400 and "gremlins" in bad.json()["error"]


def landed(results):
    out = {}
    for result in results:
        manifest = read_manifest(result.batch_dir)
        table = pq.read_table([str(result.batch_dir / f) for f in manifest["files"]])
        out[result.stream] = sorted(set(zip(table.column("id").to_pylist(), table.column("record").to_pylist(),
                                            strict=True)))
    return out


def test_extraction_under_30_percent_faults_lands_the_same_records(tmp_path):
    source = build_source("pagerduty", {"token": "pd-demo-token", "base_url": "unused"})
    windows = {s.name: {"": WINDOW} for s in source.streams}
    kinds = ["429", "500", "502", "503", "timeout", "reset", "truncate", "html"]
    with start_emulator(seed=11, profile="stress") as emu:
        clean = landed(extract_streams(client(emu.pagerduty_url, 2), list(source.streams), windows,
                                       tmp_path / "clean"))
        emu.app.faults.update(rate=0.3, kinds=kinds, seed=5, delay_s=0.6)
        faulty_client = client(emu.pagerduty_url, 12)
        faulty = landed(extract_streams(faulty_client, list(source.streams), windows, tmp_path / "faulty"))
        injected = emu.app.faults.snapshot()["injected"]
    assert faulty == clean
    assert sum(injected.values()) >= 3 and faulty_client.stats.retries == sum(injected.values())


def test_every_kind_is_dealt_once_per_round_of_faults():
    from emulator.faults import KINDS, FaultPlan

    plan = FaultPlan(rate=1.0, seed=3)
    first, second = [plan.draw() for _ in KINDS], [plan.draw() for _ in KINDS]
    assert sorted(first) == sorted(second) == sorted(KINDS) and first != second
    plan.update(seed=3)
    assert [plan.draw() for _ in KINDS] == first  # a new seed replays from the start
