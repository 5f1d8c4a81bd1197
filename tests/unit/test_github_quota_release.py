"""A GitHub extract that needs several hours of BOTH quotas (REST requests and GraphQL points) completes, with the
same records as without a quota, whether it waits through each reset or gives its worker slot back.

One repository, a month of history, against the emulator enforcing 3 REST requests and 2 GraphQL points (a page
of pull requests costs up to 2) per emulated hour. The emulator's clock stands still and every sleep of the client
(a quota wait, a backoff) moves it on by the time slept instead (`_sleep_on_the_emulator`): each reset is reached at
once, and how many waits there are does not depend on how fast this machine answers (a clock running at a fixed rate
of real time let a busy machine's slow requests cross resets, so a bucket was sometimes never spent).
The reference is the same extract from a second emulator of the same seed without a quota and with a clock that
stands still. The quota runs' clock moves by hours while they read, so records created or updated meanwhile may
be added: every reference record is found, and every other record is one that changed after the reference moment.

`release_slot` is what the Airflow task does (dags/ops_kpi_daily.py: QuotaRelease → AirflowRescheduleException):
here the rescheduling is a loop that moves the emulator's clock by the wait and calls the extract again, as the
scheduler would at `resume_at`."""

from __future__ import annotations

import json
import logging

import pyarrow.parquet as pq
import pytest

from emulator.server import start_emulator
from extractors.http import HttpClient, QuotaRelease
from extractors.landing import complete_batches, read_manifest
from opskpi import pipeline
from tests.reliability.runs import EMULATOR_NOW, TOKENS, context, small_config, write_config

REST_PER_HOUR, POINTS_PER_HOUR = 3, 2


def _landed(config, run_id: str) -> dict[str, dict[tuple, dict]]:
    """stream -> primary key -> record (the last one landed), over every complete batch of the run."""
    out: dict[str, dict[tuple, dict]] = {}
    root = config.landing_dir / "github"
    for stream_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for batch in complete_batches(config.landing_dir, "github", stream_dir.name):
            manifest = read_manifest(batch)
            if manifest.get("run_id") != run_id:
                continue
            keys = manifest["primary_key"]
            for row in pq.read_table([str(batch / f) for f in manifest["files"]]).to_pylist():
                out.setdefault(stream_dir.name, {})[tuple(str(row[k]) for k in keys)] = json.loads(row["record"])
    return out


def _sleep_on_the_emulator(monkeypatch, emu) -> None:
    """Every HttpClient's sleeps move the emulator's clock instead of this machine's time."""
    init = HttpClient.__init__

    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._sleep = lambda seconds: emu.advance(seconds=seconds) if seconds > 0 else None

    monkeypatch.setattr(HttpClient, "__init__", patched)


def _config(tmp_path, name, emu, **github):
    return write_config(tmp_path / f"{name}.yml", small_config(tmp_path / name, emu.base_url, sources=("github",),
                                                               **github))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in TOKENS.items():
            mp.setenv(name, value)
        with start_emulator(seed=42, now=EMULATOR_NOW) as emu:
            config = _config(tmp_path, "ref", emu)
            pipeline.extract(config, "github", context(config, "ref"))
            return _landed(config, "ref")


def _same_records(got: dict, reference: dict) -> None:
    assert set(reference) <= set(got)
    for stream, records in reference.items():
        missing = set(records) - set(got.get(stream, {}))
        assert not missing, f"{stream}: {len(missing)} reference records not landed, e.g. {sorted(missing)[:3]}"
        extra = set(got[stream]) - set(records)
        for key in extra:  # only what appeared or changed while the quota run's clock moved on
            record = got[stream][key]
            stamps = [record.get(f) for f in ("updated_at", "created_at", "committed_at") if record.get(f)]
            if stamps:
                assert max(stamps) >= EMULATOR_NOW, f"{stream} {key}: not in the reference, yet older than it"


def test_both_quotas_are_waited_through_and_the_same_records_land(tmp_path, monkeypatch, caplog, reference):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.INFO, logger="opskpi.pipeline")
    with start_emulator(seed=42, now=EMULATOR_NOW, github_rate_limit=REST_PER_HOUR,
                        github_graphql_points=POINTS_PER_HOUR) as emu:
        _sleep_on_the_emulator(monkeypatch, emu)
        config = _config(tmp_path, "wait", emu)
        pipeline.extract(config, "github", context(config, "wait"))
    waits = [r.progress for r in caplog.records if getattr(r, "progress", {}).get("event") == "waiting"]
    assert {w["resource"] for w in waits} == {"core", "graphql"}, "both buckets ran out and were waited for"
    assert len(waits) >= 3
    _same_records(_landed(config, "wait"), reference)


def test_a_long_quota_wait_gives_the_slot_back_and_resumes_from_the_checkpoint(tmp_path, monkeypatch, reference):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    with start_emulator(seed=42, now=EMULATOR_NOW, github_rate_limit=REST_PER_HOUR,
                        github_graphql_points=POINTS_PER_HOUR) as emu:
        _sleep_on_the_emulator(monkeypatch, emu)
        config = _config(tmp_path, "release", emu, release_slot_after="5m")
        ctx = context(config, "release")
        checkpoint = pipeline.checkpoint_path(config, "github", ctx, "acme/api")
        releases, skipped = [], []
        for _ in range(40):  # the scheduler: run the task, and again at resume_at while it asks to be rescheduled
            try:
                summary = pipeline.extract(config, "github", ctx, partition="acme/api", release_slot=True)
                break
            except QuotaRelease as exc:
                releases.append(exc.resource)
                assert checkpoint.exists()
                skipped.append(set(json.loads(checkpoint.read_text())["completed"]))
                emu.advance(seconds=exc.wait_s)  # the scheduler comes back at resume_at
        else:
            pytest.fail("the extract never completed")
    assert {"core", "graphql"} <= set(releases), "each bucket's wait released the slot"
    assert any(skipped), "a resumed extract skipped the streams an earlier try had landed"
    assert all(a <= b for a, b in zip(skipped, skipped[1:], strict=False)), "the checkpoint only grows"
    assert not checkpoint.exists(), "a completed extract leaves no checkpoint: clearing the task re-reads all"
    resumed = {s.split("__", 1)[1] for s, v in summary.items() if v.get("resumed")}
    assert resumed and resumed <= skipped[-1]
    _same_records(_landed(config, "release"), reference)
