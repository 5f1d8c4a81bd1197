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


def _raw(con):
    return con.execute("SELECT id, status, updated_at::VARCHAR, record::VARCHAR FROM raw.pagerduty__incidents "
                       "ORDER BY id").fetchall()


def test_batches_pending_together_merge_as_if_one_after_the_other(tmp_path):
    """Several pending batches of a stream are merged in one statement: the outcome is that of loading them in
    order, one by one (newer cursor wins; same cursor, the later record; an older version never rolls back)."""
    batches = [
        [inc("A", "triggered", "2024-01-01T01:00:00Z"), inc("B", "triggered", "2024-01-01T01:00:00Z"),
         inc("C", "triggered", "2024-01-01T05:00:00Z"), inc("D", "triggered", "2024-01-01T01:00:00Z")],
        [inc("A", "acknowledged", "2024-01-01T02:00:00Z"), {**inc("B", "triggered", "2024-01-01T01:00:00Z"),
                                                             "title": "renamed"},
         inc("C", "resolved", "2024-01-01T04:00:00Z"), inc("E", "triggered", "2024-01-01T01:00:00Z")],
        [inc("A", "resolved", "2024-01-01T03:00:00Z"), inc("D", "triggered", "2024-01-01T01:00:00Z")],
    ]
    one_by_one, together = tmp_path / "one", tmp_path / "together"
    with duckdb.connect(str(tmp_path / "one.duckdb")) as c1, duckdb.connect(str(tmp_path / "all.duckdb")) as c2:
        for c in (c1, c2):
            c.execute("SET TimeZone = 'UTC'")
        land(one_by_one, [inc("C", "triggered", "2024-01-01T00:00:00Z")])  # already loaded before
        land(together, [inc("C", "triggered", "2024-01-01T00:00:00Z")])
        load_pending(c1, one_by_one, [("pagerduty", "incidents")])
        load_pending(c2, together, [("pagerduty", "incidents")])
        for records in batches:
            land(one_by_one, records)
            load_pending(c1, one_by_one, [("pagerduty", "incidents")])
        for records in batches:
            land(together, records)
        results = load_pending(c2, together, [("pagerduty", "incidents")])
        assert len(results) == 3
        assert _raw(c2) == _raw(c1)
        assert [r[:2] for r in _raw(c2)] == [("A", "resolved"), ("B", "triggered"), ("C", "triggered"),
                                             ("D", "triggered"), ("E", "triggered")]
        assert "renamed" in dict((r[0], r[3]) for r in _raw(c2))["B"]
        assert read_watermarks(c2, "pagerduty", "incidents") == read_watermarks(c1, "pagerduty", "incidents")
        # Each batch is recorded, and the rows it left in raw are counted as its changes.
        changed = dict(c2.execute("SELECT batch_id, rows_changed FROM meta.batches").fetchall())
        assert sorted(r.batch_id for r in results) == sorted(changed)[1:]
        assert all(r.rows_changed == changed[r.batch_id] for r in results)
        assert sum(r.rows_changed for r in results) == 5  # A, B, C, D, E each left by one of them


def test_a_refused_batch_among_several_is_set_aside_and_the_others_load(tmp_path, con):
    land(tmp_path, [inc("A", "triggered", "2024-02-01T00:00:00Z")])
    bad = land(tmp_path, [inc("B", "resolved", "2024-02-02T00:00:00Z"), inc("C", "resolved", "not a time")])
    land(tmp_path, [inc("D", "resolved", "2024-02-03T00:00:00Z")])
    rejected: list[str] = []
    loaded = load_pending(con, tmp_path, [("pagerduty", "incidents")], tmp_path / "quarantine", rejected)
    assert len(loaded) == 2 and len(rejected) == 1 and bad.name in rejected[0]
    assert [r[0] for r in table(con)] == ["A", "D"]
    assert (tmp_path / "quarantine" / "pagerduty" / "incidents" / bad.name).exists()
    assert read_watermarks(con, "pagerduty", "incidents") == {"": "2024-02-03T00:00:00+00:00"}


def test_etags_of_a_batch_are_stored_and_replaced_in_bulk(tmp_path, con):
    from opskpi.load import ensure_meta, read_etags

    ensure_meta(con)
    writer = LandingWriter(tmp_path, STREAM, new_batch_id())
    first = writer.commit({"run_id": "t", "etags": {f"GET /x/{i}?": f'W/"{i}"' for i in range(3000)}})
    (first / VALIDATION_FILE).write_text(json.dumps({"success": True}))
    load_pending(con, tmp_path, [("pagerduty", "incidents")])
    writer = LandingWriter(tmp_path, STREAM, new_batch_id())
    second = writer.commit({"run_id": "t", "etags": {"GET /x/7?": 'W/"new"', "GET /y?": 'W/"y"'}})
    (second / VALIDATION_FILE).write_text(json.dumps({"success": True}))
    load_pending(con, tmp_path, [("pagerduty", "incidents")])
    etags = read_etags(con, "pagerduty", "incidents")
    assert len(etags) == 3001 and etags["GET /x/7?"] == 'W/"new"' and etags["GET /x/8?"] == 'W/"8"'


def test_a_new_key_column_is_filled_from_the_rows_loaded_before_so_nothing_is_counted_twice(tmp_path, con):
    """GitHub deployment statuses: REST keyed them by an integer `id`, GraphQL has none and keys them by node id.
    The REST rows loaded before carry `node_id` in their record; adding the column fills it from there, so the
    first GraphQL load replaces them instead of adding a second row per status."""
    from extractors.sources import build_source

    rest = {"id": 501, "node_id": "DES_a", "state": "success", "environment": "production",
            "created_at": "2026-01-01T00:00:00Z"}
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE TABLE raw.github__deployment_statuses (repo VARCHAR, deployment_id BIGINT, id BIGINT, "
                "state VARCHAR, environment VARCHAR, created_at TIMESTAMPTZ, record JSON, _batch_id VARCHAR, "
                "_loaded_at TIMESTAMPTZ)")
    con.execute("INSERT INTO raw.github__deployment_statuses VALUES ('o/r', 7, 501, 'success', 'production', "
                "'2026-01-01T00:00:00Z', ?, 'old', now())", [json.dumps(rest)])
    stream = build_source("github", {"base_url": "http://x", "token": "t", "repos": ["o/r"]}).stream(
        "deployment_statuses")
    writer = LandingWriter(tmp_path, stream, new_batch_id())
    part = Partition("o/r", {"repo": "o/r", "deployment_id": "7"})
    for node, state in (("DES_a", "SUCCESS"), ("DES_b", "INACTIVE")):
        writer.add({"node_id": node, "state": state, "environment": "production",
                    "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}, part, 0)
    batch = writer.commit({"run_id": "test"})
    (batch / VALIDATION_FILE).write_text(json.dumps({"success": True}))
    load_pending(con, tmp_path, [("github", "deployment_statuses")])
    rows = con.execute("SELECT node_id, state, _batch_id = 'old' FROM raw.github__deployment_statuses "
                       "ORDER BY node_id").fetchall()
    assert rows == [("DES_a", "SUCCESS", False), ("DES_b", "INACTIVE", False)]
