"""The guard: a bad batch is quarantined with a message naming stream, rule and row; the warehouse is untouched."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import duckdb
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
