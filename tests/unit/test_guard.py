"""The guard: a bad batch is quarantined with a message naming stream, rule and row; the warehouse is untouched."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import duckdb
import pyarrow.parquet as pq
import pytest

from extractors.landing import LandingWriter, new_batch_id
from extractors.sources import build_source
from extractors.streams import Partition
from opskpi import pipeline


def land(config, records):
    stream = build_source("pagerduty", config.source_settings("pagerduty", with_secret=False)).stream("incidents")
    writer = LandingWriter(config.landing_dir, stream, new_batch_id())
    for record in records:
        writer.add(record, Partition(""), 1)
    return writer.commit({"run_id": "t"})


def incident(id_, created, resolved=None, status="resolved"):
    return {"id": id_, "status": status, "urgency": "high", "service": {"id": "PSVC1"},
            "created_at": created, "updated_at": resolved or created, "resolved_at": resolved}


def raw_rows(config):
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        return con.execute("SELECT id, record::VARCHAR FROM raw.pagerduty__incidents ORDER BY id").fetchall()


def test_good_batch_passes_and_loads(make_config):
    config = make_config()
    ctx = pipeline.RunContext.for_date(config, date(2024, 1, 2), "r1", now=datetime(2024, 1, 3, tzinfo=UTC))
    land(config, [incident("A", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z")])
    summary = pipeline.validate(config, "pagerduty", ctx)
    assert summary["pagerduty__incidents"]["success"] is True
    pipeline.load(config, ctx)
    assert [r[0] for r in raw_rows(config)] == ["A"]


def test_bad_batch_is_quarantined_and_warehouse_unchanged(make_config):
    config = make_config()
    ctx = pipeline.RunContext.for_date(config, date(2024, 1, 2), "r1", now=datetime(2024, 1, 3, tzinfo=UTC))
    land(config, [incident("A", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z")])
    pipeline.validate(config, "pagerduty", ctx)
    pipeline.load(config, ctx)
    before = raw_rows(config)

    bad = land(config, [incident("A", "2024-01-01T10:00:00Z", "2024-01-01T12:00:00Z"),
                        incident("B", "2024-01-01T10:00:00Z", "2024-01-01T09:59:00Z")])  # resolved before created
    with pytest.raises(pipeline.GuardFailure) as err:
        pipeline.validate(config, "pagerduty", ctx)
    message = str(err.value)
    assert "pagerduty__incidents" in message
    assert "expect_column_pair_values_a_to_be_greater_than_b" in message
    assert '"id": "B"' in message, "the example names the offending record"

    quarantined = config.quarantine_dir / "pagerduty" / "incidents" / bad.name
    assert quarantined.exists() and not bad.exists()
    verdict = json.loads((quarantined / "_validation.json").read_text())
    assert verdict["success"] is False

    pipeline.load(config, ctx)  # nothing pending: the bad batch is gone from landing
    assert raw_rows(config) == before, "A keeps its old version; B never arrives"
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        results = con.execute("SELECT batch_id, success FROM meta.validation_results ORDER BY evaluated_at").fetchall()
    assert (bad.name, False) in results


def test_pending_batches_are_checked_in_one_call_and_judged_alone(make_config, monkeypatch):
    """Several batches of a stream share one GX call; a bad one is still quarantined alone, named, with the same
    failures as when checked by itself, and the good ones (the same record in two of them is fine) load."""
    from expectations import runner

    config = make_config()
    ctx = pipeline.RunContext.for_date(config, date(2024, 1, 2), "r1", now=datetime(2024, 1, 3, tzinfo=UTC))
    good1 = land(config, [incident("A", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z")])
    bad = land(config, [incident("B", "2024-01-01T10:00:00Z", "2024-01-01T09:59:00Z"),  # resolved before created
                        incident("C", "2024-01-01T10:00:00Z"), incident("C", "2024-01-01T10:00:00Z")])  # twice
    good2 = land(config, [incident("A", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z"),  # A again: another batch
                          incident("D", "2024-01-01T10:00:00Z", "2024-01-01T10:30:00Z")])
    frame = pq.read_table([str(p) for p in bad.glob("*.parquet")]).to_pandas()
    alone = runner.validate_frame(frame, "pagerduty__incidents", ["id"])
    calls = []
    real = runner._run_suite
    monkeypatch.setattr(runner, "_run_suite", lambda *a: calls.append(a[1]) or real(*a))

    with pytest.raises(pipeline.GuardFailure) as err:
        pipeline.validate(config, "pagerduty", ctx)
    assert calls == ["pagerduty__incidents"], "one GX call for the three batches"
    message = str(err.value)
    assert bad.name in message and good1.name not in message and good2.name not in message
    assert '"id": "B"' in message
    assert (config.quarantine_dir / "pagerduty" / "incidents" / bad.name).exists() and not bad.exists()
    verdict = json.loads((config.quarantine_dir / "pagerduty" / "incidents" / bad.name / "_validation.json")
                         .read_text())
    assert not alone.success
    assert sorted((f["expectation"], f["unexpected_count"], json.dumps(f["example"], sort_keys=True, default=str))
                  for f in verdict["failures"]) == sorted(
        (f.expectation, f.unexpected_count, json.dumps(f.example, sort_keys=True, default=str)) for f in alone.failures)
    assert {f["expectation"] for f in verdict["failures"]} >= {
        "expect_column_pair_values_a_to_be_greater_than_b", "expect_compound_columns_to_be_unique"}
    for good in (good1, good2):
        assert json.loads((good / "_validation.json").read_text())["success"] is True
    pipeline.load(config, ctx)
    assert [r[0] for r in raw_rows(config)] == ["A", "D"]


def test_validation_reads_the_record_json_only_when_a_rule_names_it(monkeypatch):
    from expectations import runner

    landed = ["id", "status", "record", "_page", "_seq", "_problem"]
    assert runner.columns_to_read("pagerduty__incidents", landed) == ["id", "status", "_page", "_seq", "_problem"]
    document = runner.load_suite_document("pagerduty__incidents")
    naming = {**document, "expectations": [*document["expectations"], {
        "type": "expect_column_values_to_not_be_null", "kwargs": {"column": "record"}}]}
    monkeypatch.setattr(runner, "load_suite_document", lambda name: naming)
    assert runner.columns_to_read("pagerduty__incidents", landed) == landed


def test_a_batch_without_rows_passes_without_gx_only_when_it_cannot_fail(make_config, monkeypatch):
    """Zero rows and row-by-row rules only: passed without a GX call (every rule listed as checked). A rule GX
    would fail on zero rows (a missing column, a proportion) still goes to GX and fails there."""
    from expectations import runner

    good = land(make_config(), [incident("A", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z")])
    frame = pq.read_table([str(p) for p in good.glob("*.parquet")]).to_pandas()
    empty = frame.iloc[0:0]
    bounds = (datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC))
    calls = []
    real = runner._run_suite
    monkeypatch.setattr(runner, "_run_suite", lambda *a: calls.append(a[1]) or real(*a))

    outcomes = runner.validate_frames({"b1": empty, "b2": frame}, "pagerduty__incidents", ["id"], bounds)
    assert outcomes["b1"].success and outcomes["b2"].success
    assert len(calls) == 1, "only the batch with rows is checked by GX"
    document = runner.load_suite_document("pagerduty__incidents")
    assert outcomes["b1"].evaluated == outcomes["b2"].evaluated == len(outcomes["b1"].result["results"]) > len(
        document["expectations"])  # the suite's rules, the timestamp bounds and the generic rule
    assert outcomes["b1"].result["rows"] == 0

    calls.clear()
    missing = empty.drop(columns=["status"])
    assert not runner.validate_frames({"b1": missing}, "pagerduty__incidents", ["id"], bounds)["b1"].success
    assert calls == ["pagerduty__incidents"]
    calls.clear()
    proportion = {**document, "expectations": [*document["expectations"], {
        "type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id", "mostly": 0.9}}]}
    monkeypatch.setattr(runner, "load_suite_document", lambda name: proportion)
    runner.validate_frames({"b1": empty}, "pagerduty__incidents", ["id"], bounds)
    assert calls == ["pagerduty__incidents"]
