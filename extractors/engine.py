"""Runs any declared stream: pages through each partition's requests and lands the records.

Nothing here knows which API it is talking to. Per-source behaviour lives in the stream
declarations (requests to send, where records are, when to stop, how to split a capped query).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractors.http import HttpClient
from extractors.landing import LandingWriter, new_batch_id
from extractors.pagination import OffsetCapReached, PageRequest, PaginationError
from extractors.streams import Partition, Stream, Window

log = logging.getLogger(__name__)

ProgressHook = Callable[[dict[str, Any]], None]


@dataclass
class StreamResult:
    stream: str
    batch_dir: Path
    rows: int
    pages: int
    requests: int
    seconds: float
    manifest: dict[str, Any]


def _records(stream: Stream, body: Any) -> list[dict[str, Any]]:
    if body is None:
        return []
    records = body if stream.records_key is None else body.get(stream.records_key)
    if not isinstance(records, list):
        raise PaginationError(
            f"{stream.key}: expected a list of records under {stream.records_key or 'the body'}, "
            f"got {type(records).__name__}"
        )
    return records


def _walk(client: HttpClient, stream: Stream, request: PageRequest, window: Window, partition: Partition,
          writer: LandingWriter, counters: dict[str, int]) -> None:
    paginator = stream.paginator()
    page = paginator.first(request)
    context = f"{stream.key}[{partition.id or '*'}]"
    while page is not None:
        body, response = client.request_json(
            page.method, page.path, params=list(page.params) or None, json_body=page.json_body, context=context
        )
        counters["pages"] += 1
        stop = False
        for record in _records(stream, body):
            if not isinstance(record, dict):
                raise PaginationError(f"{context}: a record is a {type(record).__name__}, not an object")
            if stream.stop_when is not None and stream.stop_when(record, window):
                stop = True
                break
            writer.add(record, partition, counters["pages"])
        if stop:
            return
        page = paginator.next(page, body, response)


def extract_stream(
    client: HttpClient,
    stream: Stream,
    windows: dict[str, Window],
    landing_root: Path,
    *,
    run_id: str = "",
    progress: ProgressHook | None = None,
) -> StreamResult:
    """Read every partition of `stream` within its window into one new landing batch.

    `windows` maps partition id to the window to read (from that partition's watermark). Requests
    that would pass an offset cap are split with the stream's `split` and re-read; the duplicates
    this lands are harmless because the loader keeps one row per primary key.
    """
    started = time.monotonic()
    before = client.stats.requests
    writer = LandingWriter(landing_root, stream, new_batch_id())
    counters = {"pages": 0}
    partitions_meta: dict[str, dict[str, Any]] = {}
    try:
        for partition in stream.partitions:
            window = windows[partition.id]
            queue = list(stream.requests(partition, window))
            pages_before = counters["pages"]
            while queue:
                request = queue.pop(0)
                try:
                    _walk(client, stream, request, window, partition, writer, counters)
                except OffsetCapReached:
                    if stream.split is None:
                        raise
                    parts = stream.split(request)
                    log.info("%s: query passes the offset cap, split into %d", stream.key, len(parts))
                    queue[:0] = parts
            partitions_meta[partition.id] = {
                "window_start": window.start.isoformat() if window.start else None,
                "window_end": window.end.isoformat(),
                "pages": counters["pages"] - pages_before,
                **writer.partitions.get(partition.id, {"rows": 0, "max_cursor": None}),
            }
            if progress:
                progress({"stream": stream.key, "partition": partition.id, **partitions_meta[partition.id]})
        manifest = {
            "run_id": run_id,
            "extracted_at": datetime.now(UTC).isoformat(),
            "pages": counters["pages"],
            "requests": client.stats.requests - before,
            "client_http_totals": client.stats.as_dict(),
            "partitions": partitions_meta,
        }
        final = writer.commit(manifest)
    except BaseException:
        writer.abort()
        raise
    return StreamResult(
        stream=stream.key,
        batch_dir=final,
        rows=manifest.get("rows", writer._seq),
        pages=counters["pages"],
        requests=manifest["requests"],
        seconds=time.monotonic() - started,
        manifest=manifest,
    )
