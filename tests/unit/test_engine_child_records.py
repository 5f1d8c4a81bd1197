"""Engine hooks: a child taking records from its parent without a request, one walk per distinct parent,
and columns stamped with the end of the window they were read in."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow.parquet as pq

from extractors.engine import extract_streams
from extractors.http import HttpClient, RetryPolicy
from extractors.landing import read_manifest
from extractors.pagination import LinkHeaderPaginator, PageRequest
from extractors.streams import WINDOW_END, Column, Stream, Window
from tests.scripted_server import ScriptedServer

WINDOW = Window(start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 3, 1, tzinfo=UTC))


def rows(result) -> list[dict]:
    manifest = read_manifest(result.batch_dir)
    return pq.read_table([str(result.batch_dir / f) for f in manifest["files"]]).to_pylist()


def test_child_takes_complete_embedded_lists_and_requests_only_cut_ones(tmp_path):
    # Parent 1 embeds its whole list; parent 2 embeds 1 of 3 entries; parent 1 comes back on a later
    # page with one more entry (updated while we paged): its last version counts, once.
    parents = [
        {"id": "1", "log": {"total": 1, "entries": [{"id": "a"}]}},
        {"id": "2", "log": {"total": 3, "entries": [{"id": "z"}]}},
        {"id": "1", "log": {"total": 2, "entries": [{"id": "a"}, {"id": "b"}]}},
    ]

    def handler(method, path, body, headers):
        if path.startswith("/parents/2/log"):
            return 200, {}, [{"id": "x"}, {"id": "y"}, {"id": "z"}]
        assert path.startswith("/parents?"), f"only parent 2's log is requested, not {path}"
        return 200, {}, parents

    parent = Stream(source="t", name="parents", columns=(Column("id"),), primary_key=("id",), records_key=None,
                    paginator=LinkHeaderPaginator, requests=lambda p, w: [PageRequest("GET", "/parents")])

    def complete(record):
        log = record["log"]
        return log["entries"] if len(log["entries"]) >= log["total"] else None

    child = Stream(source="t", name="log", records_key=None, paginator=LinkHeaderPaginator,
                   columns=(Column("parent_id", partition_key="parent_id"), Column("id"),
                            Column("read_until", kind="timestamp", partition_key=WINDOW_END)),
                   primary_key=("parent_id", "id"),
                   requests=lambda p, w: [PageRequest("GET", f"/parents/{p.values['parent_id']}/log")],
                   parent="parents", parent_ref=lambda r: {"parent_id": r["id"]}, from_parent=complete)
    client = HttpClient("http://unused", retry=RetryPolicy(max_attempts=1))
    with ScriptedServer(handler) as server:
        client.base_url = server.base_url
        results = extract_streams(client, [child, parent], {"parents": {"": WINDOW}, "log": {"": WINDOW}}, tmp_path)
    log = results[1]
    landed = sorted((r["parent_id"], r["id"], r["_page"]) for r in rows(log))
    assert landed == [("1", "a", 0), ("1", "b", 0), ("2", "x", 1), ("2", "y", 1), ("2", "z", 1)]
    assert log.requests == 1 and [r["path"] for r in server.requests].count("/parents/2/log?per_page=100") == 1
    assert {r["read_until"] for r in rows(log)} == {WINDOW.end.isoformat()}
