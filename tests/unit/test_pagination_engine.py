"""Each pagination style through the generic engine, against scripted servers."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pyarrow.parquet as pq
import pytest

from extractors.engine import extract_stream
from extractors.http import HttpClient, RetryPolicy
from extractors.landing import read_manifest
from extractors.pagination import LinkHeaderPaginator, OffsetPaginator, PageRequest, PaginationError, TokenPaginator
from extractors.sources.pagerduty import split_incident_request
from extractors.streams import Column, Partition, Stream, Window

WINDOW = Window(start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 3, 1, tzinfo=UTC))


def _stream(**kw) -> Stream:
    defaults = dict(source="t", name="items", columns=(Column("id"),), primary_key=("id",), records_key="items")
    return Stream(**{**defaults, **kw})


def _landed_ids(batch) -> list[str]:
    manifest = read_manifest(batch)
    return pq.read_table([str(batch / f) for f in manifest["files"]]).column("id").to_pylist()


def _client(server) -> HttpClient:
    return HttpClient(server.base_url, sleep=lambda s: None, retry=RetryPolicy(max_attempts=2))


def test_token_pagination_reads_every_page_and_stops_on_is_last(tmp_path):
    from tests.scripted_server import ScriptedServer

    pages = {None: ([1, 2], "t1"), "t1": ([3, 4], "t2"), "t2": ([5], None)}

    def handler(method, path, body, headers):
        ids, token = pages[body.get("nextPageToken")]
        reply = {"issues": [{"id": str(i)} for i in ids], "isLast": token is None}
        if token:
            reply["nextPageToken"] = token
        assert body["maxResults"] == 2
        return 200, {}, reply

    stream = _stream(records_key="issues", paginator=lambda: TokenPaginator(page_size=2),
                     requests=lambda p, w: [PageRequest("POST", "/search/jql", json_body={"jql": "x"})])
    with ScriptedServer(handler) as server:
        result = extract_stream(_client(server), stream, {"": WINDOW}, tmp_path)
    assert _landed_ids(result.batch_dir) == ["1", "2", "3", "4", "5"]
    assert result.pages == 3 and len(server.requests) == 3


def test_token_pagination_refuses_a_repeated_token(tmp_path):
    from tests.scripted_server import ScriptedServer

    def handler(method, path, body, headers):
        return 200, {}, {"issues": [{"id": "1"}], "nextPageToken": "same", "isLast": False}

    stream = _stream(records_key="issues", paginator=lambda: TokenPaginator(page_size=1),
                     requests=lambda p, w: [PageRequest("POST", "/search/jql", json_body={})])
    with ScriptedServer(handler) as server, pytest.raises(PaginationError, match="returned twice"):
        extract_stream(_client(server), stream, {"": WINDOW}, tmp_path)
    assert len(server.requests) == 2
    assert not list(tmp_path.rglob("_manifest.json")), "a failed walk must not leave a complete-looking batch"


def test_offset_pagination_follows_more_and_splits_windows_over_the_cap(tmp_path):
    from tests.scripted_server import ScriptedServer

    # 30 incidents, one per day of January; the "cap" is 10, so a month must be split.
    incidents = [{"id": f"P{d:02d}", "created_at": f"2024-01-{d:02d}T12:00:00Z"} for d in range(1, 31)]

    def handler(method, path, body, headers):
        q = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
        offset, limit = int(q["offset"]), int(q["limit"])
        if offset + limit > 10:
            return 400, {}, {"error": {"code": 2002, "message": "Offset+limit exceeds maximum allowed value"}}
        since, until = q["since"], q["until"]
        match = [i for i in incidents if since <= i["created_at"] < until]
        page = match[offset:offset + limit]
        return 200, {}, {"incidents": page, "limit": limit, "offset": offset, "more": offset + limit < len(match),
                         "total": len(match)}

    stream = _stream(records_key="incidents", paginator=lambda: OffsetPaginator(limit=5, max_offset=10,
                                                                               records_key="incidents"),
                     requests=lambda p, w: [PageRequest("GET", "/incidents", params=(
                         ("since", "2024-01-01T00:00:00Z"), ("until", "2024-02-01T00:00:00Z"), ("total", "true")))],
                     split=split_incident_request)
    with ScriptedServer(handler) as server:
        result = extract_stream(_client(server), stream, {"": WINDOW}, tmp_path)
    assert sorted(set(_landed_ids(result.batch_dir))) == sorted(i["id"] for i in incidents)
    assert not any(r for r in server.requests if "offset=10" in r["path"]), "never asked past the cap"


def test_link_header_pagination_follows_next_and_stops_early_past_the_window(tmp_path):
    from tests.scripted_server import ScriptedServer

    # Updated descending: items 1..3 are inside the window, item 4 is older, item 5 must never be read.
    items = [{"id": str(i), "updated_at": f"2024-02-{10 - 2 * i:02d}T00:00:00Z"} for i in range(1, 6)]
    items[3]["updated_at"] = "2023-12-31T00:00:00Z"

    def handler(method, path, body, headers):
        page = int(parse_qs(urlsplit(path).query).get("page", ["1"])[0])
        chunk = items[(page - 1) * 2: page * 2]
        links = {}
        if page * 2 < len(items):
            links["Link"] = f'<{server.base_url}/repositories/7/pulls?page={page + 1}&per_page=2>; rel="next"'
        return 200, links, chunk

    def stop(record, window):
        return record["updated_at"] < window.start.strftime("%Y-%m-%dT%H:%M:%SZ")

    stream = _stream(records_key=None, paginator=lambda: LinkHeaderPaginator(per_page=2),
                     requests=lambda p, w: [PageRequest("GET", "/repos/a/b/pulls")], stop_when=stop,
                     partitions=(Partition("a/b", {"repo": "a/b"}),))
    with ScriptedServer(handler) as server:
        result = extract_stream(_client(server), stream, {"a/b": WINDOW}, tmp_path)
    assert _landed_ids(result.batch_dir) == ["1", "2", "3"]
    assert len(server.requests) == 2
    assert server.requests[1]["path"].startswith("/repositories/7/pulls")


def test_link_header_loop_is_detected(tmp_path):
    from tests.scripted_server import ScriptedServer

    def handler(method, path, body, headers):
        return 200, {"Link": f'<{server.base_url}/loop?page=2>; rel="next"'}, [{"id": "1"}]

    stream = _stream(records_key=None, paginator=lambda: LinkHeaderPaginator(),
                     requests=lambda p, w: [PageRequest("GET", "/start")])
    with ScriptedServer(handler) as server, pytest.raises(PaginationError, match="points back"):
        extract_stream(_client(server), stream, {"": WINDOW}, tmp_path)


def test_child_streams_follow_parents_and_conditional_requests_skip_unchanged(tmp_path):
    from extractors.engine import extract_streams
    from tests.scripted_server import ScriptedServer

    def handler(method, path, body, headers):
        if "/commits" not in path:
            if headers.get("if-none-match") == '"v1"':
                return 304, {}, b""
            return 200, {"ETag": '"v1"'}, [{"id": "1", "number": 1}, {"id": "2", "number": 2}, {"id": "3"}]
        number = path.split("/")[2]
        return 200, {}, [{"sha": f"{number}a"}, {"sha": f"{number}b"}]

    parent = _stream(name="pulls", records_key=None, paginator=lambda: LinkHeaderPaginator(),
                     requests=lambda p, w: [PageRequest("GET", "/pulls")], conditional=True)
    child = _stream(name="commits", records_key=None, paginator=lambda: LinkHeaderPaginator(),
                    columns=(Column("id", "sha"), Column("number", partition_key="number")),
                    requests=lambda p, w: [PageRequest("GET", f"/pulls/{p.values['number']}/commits")],
                    parent="pulls",
                    parent_ref=lambda r: {"number": str(r["number"])} if "number" in r else None)
    windows = {"pulls": {"": WINDOW}, "commits": {"": WINDOW}}
    with ScriptedServer(handler) as server:
        first = extract_streams(_client(server), [child, parent], windows, tmp_path)
        etags = {"pulls": first[0].manifest["etags"]}
        second = extract_streams(_client(server), [child, parent], windows, tmp_path / "again", etags=etags)
    pulls, commits = first
    assert pulls.stream == "t__pulls" and pulls.rows == 3
    assert commits.rows == 4, "one walk per parent with a ref; the record without a number is skipped"
    landed = pq.read_table([str(commits.batch_dir / f) for f in commits.manifest["files"]]).to_pylist()
    assert [(r["id"], r["number"]) for r in landed] == [("1a", "1"), ("1b", "1"), ("2a", "2"), ("2b", "2")]
    # Second run: the parent's first page answers 304, so nothing is landed and no child is read.
    assert [r.rows for r in second] == [0, 0]
    assert second[0].manifest["not_modified"] == 1
    assert second[0].manifest["etags"] == etags["pulls"]
    assert [r["headers"].get("if-none-match") for r in server.requests if r["path"] == "/pulls?per_page=100"] == [
        None, '"v1"']
