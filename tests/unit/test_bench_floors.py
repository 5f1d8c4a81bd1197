"""The benchmark's arithmetic (bench/floors.py): minimum requests, request floors, ratios, verdicts.

Only the arithmetic: nothing here times anything, and no benchmark result decides a test.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from bench import floors
from bench.run import incident_windows
from opskpi.pipeline import declared_streams


def test_pages_round_up_and_none_means_one_response():
    assert floors.pages_for(0, 100) == 0
    assert floors.pages_for(1, 100) == 1
    assert floors.pages_for(100, 100) == 1
    assert floors.pages_for(101, 100) == 2
    assert floors.pages_for(5000, None) == 1
    with pytest.raises(ValueError):
        floors.pages_for(-1, 100)


def test_top_level_minimum_is_per_partition_and_at_least_one_per_walk():
    # 250 + 100 records in two repositories: 3 + 1 pages, not ceil(350 / 100) = 4 ... which happens to agree;
    # 150 + 150: 2 + 2 = 4, where one walk over both would need 3.
    assert floors.minimum_top_level({"a": 150, "b": 150}, {"a", "b"}, 100) == 4
    # An empty repository still costs the request that says so.
    assert floors.minimum_top_level({"a": 150}, {"a", "b"}, 100) == 3
    # A partition with records counts even if the manifest did not list it as walked.
    assert floors.minimum_top_level({"a": 1}, set(), 100) == 1
    # Nothing walked, nothing read (a reconciliation that was not due): nothing needed.
    assert floors.minimum_top_level({}, set(), 5000) == 0


def test_child_minimum_is_per_parent():
    # Three pull requests with 1, 100 and 250 commits (the API's cap): 1 + 1 + 3.
    assert floors.minimum_child([1, 100, 250], 100) == 5
    assert floors.minimum_child([], 100) == 0


def test_revisit_minimum_counts_every_id_asked_100_per_request_per_partition():
    # Rechecked deployments find nothing new most nights, yet each query is required: no list says which
    # deployment got a status. 250 + 30 ids in two repositories: 3 + 1 queries; none asked, none needed.
    assert floors.minimum_revisit([250, 30], 100) == 4
    assert floors.minimum_revisit([0, 0], 100) == 0
    assert floors.max_page("github", "deployment_rechecks") == 100


def test_request_floor_divides_by_the_pool():
    assert floors.request_floor_s(1000, 20, 2) == pytest.approx(10.0)
    assert floors.request_floor_s(1000, 20, 1) == pytest.approx(20.0)
    assert floors.request_floor_s(7, 0, 2) == 0
    with pytest.raises(ValueError):
        floors.request_floor_s(1, 20, 0)


def test_ratio_and_verdicts():
    assert floors.ratio(105, 100) == pytest.approx(1.05)
    assert floors.ratio(0, 0) is None
    assert floors.ratio(3, 0) == math.inf
    assert floors.ratio(None, 3) is None
    assert floors.TARGETS["requests_full"].judge(1.05) == "met"
    assert floors.TARGETS["requests_full"].judge(1.06) == "MISSED"
    assert floors.TARGETS["peer_speedup"].judge(2.0) == "met"
    assert floors.TARGETS["peer_speedup"].judge(1.9) == "MISSED"
    assert floors.TARGETS["peer_speedup"].judge(None) == "n/a"


def test_every_declared_stream_has_a_largest_page_and_ours_asks_for_it():
    """The minimum uses the API's largest page; a stream asking for less would pay for it in requests."""
    for stream in declared_streams():
        page = floors.max_page(stream.source, stream.name)
        assert page is None or page >= 1, stream.key
        paginator = stream.paginator()
        asked = next((getattr(paginator, a) for a in ("page_size", "limit", "per_page") if hasattr(paginator, a)),
                     None)
        if page is not None and asked is not None:
            assert asked == page, f"{stream.key} asks for {asked} per page, the API allows {page}"


def test_incident_windows_halve_like_the_stream_until_under_the_offset_cap():
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 11, tzinfo=UTC)
    few = [datetime(2026, 1, 2, tzinfo=UTC)] * 10
    assert incident_windows(few, start, end) == [("2026-01-01T00:00:00Z", "2026-01-11T00:00:00Z")]
    # 6,000 incidents on each of days 2, 4 and 9: the first half (12,000) is halved once more, the second is not.
    many = [datetime(2026, 1, d, tzinfo=UTC) for d in (2, 4, 9) for _ in range(6_000)]
    assert incident_windows(many, start, end) == [
        ("2026-01-01T00:00:00Z", "2026-01-03T12:00:00Z"),
        ("2026-01-03T12:00:00Z", "2026-01-06T00:00:00Z"),
        ("2026-01-06T00:00:00Z", "2026-01-11T00:00:00Z"),
    ]


def test_a_scanner_not_enabled_is_one_required_request_and_nothing_else_is_free():
    manifest = {"acme/api": {"pages": 2, "rows": 150, "status": "ok"},
                "acme/mobile": {"pages": 0, "rows": 0, "status": "not_enabled", "status_code": 404},
                "acme/web": {"pages": 0, "rows": 0, "status": "ok"},  # not asked this run (nothing to read)
                "acme/infra": {"pages": 1, "rows": 0, "status": "ok"}}  # asked: an empty list
    walked = floors.walked_partitions(manifest)
    assert walked == {"acme/api", "acme/mobile", "acme/infra"}
    # the refused repository costs its one request in the minimum, like an empty one; the unasked one nothing
    assert floors.minimum_top_level({"acme/api": 150}, walked, 100) == 2 + 1 + 1
    # a refusal never hides real pages: a partition with pages counts its pages, whatever its status
    assert floors.minimum_top_level({"acme/api": 250}, floors.walked_partitions(
        {"acme/api": {"pages": 3, "status": "not_enabled"}}), 100) == 3
