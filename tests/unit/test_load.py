"""The merge into raw: newest version wins, a batch applied twice changes nothing, watermarks follow."""

from __future__ import annotations

import json

import duckdb
import pytest

from extractors.landing import LandingWriter, new_batch_id
from extractors.pagination import TokenPaginator
from extractors.streams import Column, Partition, Stream
from opskpi.load import VALIDATION_FILE, load_pending, merge_batch, read_watermarks

STREAM = Stream(
    source="pagerduty", name="incidents",
    columns=(Column("id"), Column("status"), Column("created_at", kind="timestamp"),
             Column("updated_at", kind="timestamp")),
    primary_key=("id",), cursor="updated_at", records_key="incidents",
    paginator=TokenPaginator, requests=lambda p, w: [],
)


def land(root, records, validated=True):
    writer = LandingWriter(root, STREAM, new_batch_id())
    for page, record in enumerate(records):
        writer.add(record, Partition(""), page)
    batch = writer.commit({"run_id": "test"})
    if validated:
        (batch / VALIDATION_FILE).write_text(json.dumps({"success": True}))
    return batch


def inc(id_, status, updated, created="2024-01-01T00:00:00Z"):
    return {"id": id_, "status": status, "created_at": created, "updated_at": updated, "title": f"{id_} {status}"}


def table(con):
    return con.execute("SELECT id, status, updated_at::VARCHAR FROM raw.pagerduty__incidents ORDER BY id").fetchall()


@pytest.fixture
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    c.execute("SET TimeZone = 'UTC'")
    yield c
    c.close()


def test_newest_version_wins_within_and_across_batches(tmp_path, con):
    land(tmp_path, [inc("A", "triggered", "2024-01-01T01:00:00Z"),
                    inc("A", "resolved", "2024-01-01T03:00:00Z"),       # newer, same batch
                    inc("B", "acknowledged", "2024-01-01T02:00:00+01:00")])  # = 01:00 UTC
    load_pending(con, tmp_path, [("pagerduty", "incidents")])
    assert table(con) == [("A", "resolved", "2024-01-01 03:00:00+00"), ("B", "acknowledged", "2024-01-01 01:00:00+00")]
    # A later batch carrying an OLDER version of A (a stale page) must not roll it back; B moves on.
    land(tmp_path, [inc("A", "triggered", "2024-01-01T02:00:00Z"), inc("B", "resolved", "2024-01-02T00:00:00Z")])
    load_pending(con, tmp_path, [("pagerduty", "incidents")])
    assert table(con) == [("A", "resolved", "2024-01-01 03:00:00+00"), ("B", "resolved", "2024-01-02 00:00:00+00")]
    assert read_watermarks(con, "pagerduty", "incidents") == {"": "2024-01-02T00:00:00+00:00"}


def test_loading_the_same_batch_twice_changes_nothing(tmp_path, con):
    batch = land(tmp_path, [inc("A", "triggered", "2024-01-01T01:00:00Z"),
                            inc("C", "resolved", "2024-01-03T00:00:00Z")])
    load_pending(con, tmp_path, [("pagerduty", "incidents")])
    before = con.execute("SELECT * FROM raw.pagerduty__incidents ORDER BY id").fetchall()
    # Bypass the bookkeeping and merge the same files again: no row may change, not even _loaded_at.
    con.execute("BEGIN")
    result = merge_batch(con, batch)
    con.execute("COMMIT")
    assert result.rows_changed == 0
    assert con.execute("SELECT * FROM raw.pagerduty__incidents ORDER BY id").fetchall() == before
    # And the normal path skips an already loaded batch.
    assert load_pending(con, tmp_path, [("pagerduty", "incidents")]) == []


def test_unvalidated_batches_wait_and_watermark_never_moves_back(tmp_path, con):
    land(tmp_path, [inc("A", "resolved", "2024-02-01T00:00:00Z")])
    load_pending(con, tmp_path, [("pagerduty", "incidents")])
    land(tmp_path, [inc("Z", "triggered", "2024-03-01T00:00:00Z")], validated=False)
    land(tmp_path, [inc("A", "resolved", "2024-01-15T00:00:00Z")])
    loaded = load_pending(con, tmp_path, [("pagerduty", "incidents")])
    assert len(loaded) == 1
    assert [r[0] for r in table(con)] == ["A"], "the unvalidated batch holding Z is not loaded"
    assert read_watermarks(con, "pagerduty", "incidents") == {"": "2024-02-01T00:00:00+00:00"}


def test_a_failing_batch_rolls_back_entirely(tmp_path, con):
    land(tmp_path, [inc("A", "resolved", "2024-02-01T00:00:00Z")])
    load_pending(con, tmp_path, [("pagerduty", "incidents")])
    bad = land(tmp_path, [inc("B", "resolved", "2024-02-02T00:00:00Z"), inc("C", "resolved", "not a time")])
    with pytest.raises(duckdb.Error):
        load_pending(con, tmp_path, [("pagerduty", "incidents")])
    assert [r[0] for r in table(con)] == ["A"]
    assert read_watermarks(con, "pagerduty", "incidents") == {"": "2024-02-01T00:00:00+00:00"}
    assert con.execute("SELECT count(*) FROM meta.batches WHERE batch_id = ?", [bad.name]).fetchone()[0] == 0
