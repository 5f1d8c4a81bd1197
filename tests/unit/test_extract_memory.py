"""Extract memory stays flat in volume: landing parts are cut by bytes as well as rows, and the child records a
parent stream calls for wait on disk, not in memory (bench/: extract peak RSS at `large` against `medium`)."""

from __future__ import annotations

import pyarrow.parquet as pq

from extractors.engine import PendingChildren
from extractors.landing import LandingWriter, new_batch_id
from extractors.pagination import TokenPaginator
from extractors.streams import Column, Partition, Stream

STREAM = Stream(source="jira", name="issues", columns=(Column("id"),), primary_key=("id",), records_key="issues",
                paginator=TokenPaginator, requests=lambda p, w: [])


def test_large_records_are_flushed_by_bytes_not_only_by_rows(tmp_path):
    writer = LandingWriter(tmp_path, STREAM, new_batch_id(), rows_per_part=20_000, part_bytes=100_000)
    for i in range(50):  # 50 records of ~10 KB: 500 KB, far below 20,000 rows
        writer.add({"id": str(i), "changelog": "x" * 10_000}, Partition(""))
        assert writer._bytes < 100_000 + 11_000, "the buffer never holds much more than part_bytes"
    batch = writer.commit({"run_id": "t"})
    files = sorted(batch.glob("part-*.parquet"))
    assert len(files) >= 5
    assert sum(pq.read_metadata(f).num_rows for f in files) == 50


def test_pending_children_keep_the_last_version_of_each_ref_in_first_seen_order():
    pending = PendingChildren()
    a, b = Partition("acme/api", {"repo": "acme/api"}), Partition("acme/web", {"repo": "acme/web"})
    pending.add(a, {"pull_number": "1"}, None)
    pending.add(b, {"pull_number": "1"}, None)  # same ref, another partition: distinct
    pending.add(a, {"pull_number": "2"}, [{"id": "old"}])
    pending.add(a, {"pull_number": "2"}, [{"id": "new"}])  # read again while paging: the last version wins
    assert len(pending) == 3
    assert list(pending) == [(a, {"pull_number": "1"}, None), (b, {"pull_number": "1"}, None),
                             (a, {"pull_number": "2"}, [{"id": "new"}])]
    assert list(pending) == list(pending), "it can be read more than once"
    pending.close()


def test_pending_children_hold_inline_records_on_disk():
    pending = PendingChildren()
    for i in range(2_000):
        entries = [{"id": str(j), "items": f"{i}.{j}." + "y" * 500} for j in range(20)]
        pending.add(Partition(""), {"issue_id": str(i)}, entries)
    # ~20 MB of inline records went to the file; memory holds one small index entry per parent.
    assert pending._end > 20_000_000 and len(pending._index) == 2_000
    assert sum(len(inline) for _, _, inline in pending) == 40_000
    pending.close()
