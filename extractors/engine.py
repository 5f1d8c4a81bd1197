"""Runs any declared stream: pages through each partition's requests and lands the records.

Nothing here knows which API it is talking to. Per-source behaviour lives in the stream
declarations (requests to send, where records are, when to stop, how to split a capped query).
"""

from __future__ import annotations

import json
import logging
import pickle
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractors.crashpoints import crashpoint
from extractors.http import HttpClient, PermissionDenied, QuotaRelease
from extractors.landing import LandingWriter, new_batch_id, read_manifest
from extractors.pagination import OffsetCapReached, PageRequest, PaginationError
from extractors.streams import WINDOW_END, Partition, Stream, Window, families

log = logging.getLogger(__name__)

ProgressHook = Callable[[dict[str, Any]], None]
# How often a stream still reading reports its running totals (and once more when it ends).
PROGRESS_EVERY_S = 10.0


@dataclass
class StreamResult:
    stream: str
    batch_dir: Path
    rows: int
    pages: int
    requests: int
    seconds: float
    manifest: dict[str, Any]


# Pages one partition may read in one run unless the caller says otherwise: far above any real need,
# low enough that a server sending an endless chain of fresh `Link`s or tokens is stopped.
DEFAULT_MAX_PAGES = 10_000
# What a stream's record hooks (stop_when, parent_ref, from_parent) raise on a record of the wrong shape.
RECORD_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError)


def _records(stream: Stream, body: Any) -> list[Any]:
    """The records of a page. A body of the wrong shape is an error; a record of the wrong shape is not:
    it is landed and flagged, and the guard quarantines its batch naming it."""
    if body is None:
        return []
    if stream.single_record:  # a body that is not an object is landed and flagged like any bad record
        return [body]
    if stream.records_key is None:
        records = body
    elif isinstance(body, dict):  # a dotted key digs into nested objects (GraphQL: data.repository.….nodes)
        records = body
        for part in stream.records_key.split("."):
            records = records.get(part) if isinstance(records, dict) else None
    else:
        raise PaginationError(f"{stream.key}: expected an object with {stream.records_key!r}, "
                              f"got a {type(body).__name__}")
    if not isinstance(records, list):
        raise PaginationError(
            f"{stream.key}: expected a list of records under {stream.records_key or 'the body'}, "
            f"got {type(records).__name__}"
        )
    if stream.revisit is not None:  # an id read again that no longer resolves (deleted) answers null
        records = [r for r in records if r is not None]
    return records


def child_key(ref: dict[str, str], version_key: str) -> str:
    """Identifies a child's parent record across runs (e.g. `pull_number=7`): its ref without the version."""
    return "&".join(f"{k}={v}" for k, v in sorted(ref.items()) if k != version_key)


def request_key(request: PageRequest) -> str:
    """Identifies a walk across runs, for its stored ETag."""
    params = "&".join(f"{k}={v}" for k, v in sorted(request.params))
    return f"{request.method} {request.path}?{params}"


@dataclass
class _Run:
    """Mutable state of one stream's extraction."""

    writer: LandingWriter
    etags_in: dict[str, str]
    etags_out: dict[str, str] = field(default_factory=dict)
    pages: int = 0
    not_modified: int = 0
    max_pages: int = DEFAULT_MAX_PAGES
    partition_start: int = 0  # `pages` when the current partition began: its page budget counts from here
    # child name -> what the parent's records call for (see PendingChildren)
    children: dict[str, PendingChildren] = field(default_factory=dict)
    ticker: Ticker | None = None


class Ticker:
    """A stream's running totals for the progress hook: while it reads, at most every PROGRESS_EVERY_S,
    so a first full load or a stall on rate limits shows it is alive and how fast it goes; then once at
    its end. Counts are this stream's own (the client's counters are shared by the source's streams)."""

    def __init__(self, hook: ProgressHook | None, client: HttpClient, stream: Stream, every_s: float):
        self.hook, self.client, self.stream, self.every_s = hook, client, stream, every_s
        self.started = self.last = time.monotonic()
        stats = client.stats
        self.base = (stats.requests, stats.rate_limit_waits, stats.retries, stats.waited_s, stats.points,
                     stats.quota_waits)

    def tick(self, state: _Run, partition: str | None, event: str = "reading") -> None:
        now = time.monotonic()
        if self.hook is None or (event == "reading" and now - self.last < self.every_s):
            return
        self.last = now
        stats = self.client.stats
        requests, waits, retries, waited, points, quota_waits = self.base
        self.hook({"event": event, "stream": self.stream.key, "partition": partition, "pages": state.pages,
                   "rows": state.writer.rows, "requests": stats.requests - requests,
                   "not_modified": state.not_modified, "retries": stats.retries - retries,
                   "rate_limit_waits": stats.rate_limit_waits - waits,
                   "waited_s": round(stats.waited_s - waited, 1), "points": stats.points - points,
                   "quota_waits": stats.quota_waits - quota_waits,
                   "seconds": round(now - self.started, 1)})


class PendingChildren:
    """What a parent stream's records call for in a child stream: per distinct (partition, ref) its last version,
    in first-seen order, as (parent partition, ref, records taken from the parent or None to request them).

    Kept in a temporary file, with only the index in memory: records taken from the parent (a Jira issue's
    embedded changelog) are as many as the parent's records, and holding them until the child stream runs made
    extract memory grow with volume."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close(), or with the object
        self._index: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[int, int]] = {}
        self._end = 0

    def add(self, partition: Partition, ref: dict[str, str], inline: list[dict[str, Any]] | None) -> None:
        blob = pickle.dumps((partition, ref, inline), protocol=pickle.HIGHEST_PROTOCOL)
        self._file.seek(self._end)
        self._file.write(blob)
        self._index[(partition.id, tuple(sorted(ref.items())))] = (self._end, len(blob))
        self._end += len(blob)

    def __len__(self) -> int:
        return len(self._index)

    def __iter__(self):
        for offset, length in list(self._index.values()):
            self._file.seek(offset)
            yield pickle.loads(self._file.read(length))

    def close(self) -> None:
        self._file.close()


def _walk(client: HttpClient, stream: Stream, request: PageRequest, window: Window, partition: Partition,
          state: _Run, child_streams: list[Stream]) -> bool:
    """Read one walk (a first request and its pages). Returns whether it was cut: stopped by its stop rule on a
    page that had a next one (a walk read to its end, or answered 304, was not).

    A record that meets the stop rule is skipped and the walk ends with its page, rather than at that record: on
    a list sorted by the stop rule's own field every later record of the page meets it too, and on the security
    alerts' first walk the open alerts further down the page are exactly what the rule keeps."""
    paginator = stream.paginator()
    stop_when = request.stop_when or stream.stop_when
    page = paginator.first(request)
    context = f"{stream.key}[{partition.id or '*'}]"
    key = request_key(page)
    headers = None
    if stream.conditional and key in state.etags_in:
        headers = {"If-None-Match": state.etags_in[key]}
    first = True
    while page is not None:
        body, response = client.request_json(
            page.method, page.path, params=list(page.params) or None, json_body=page.json_body,
            headers=headers if first else None, context=context,
            body_check=getattr(paginator, "check_body", None), shrink=getattr(paginator, "shrink", None),
        )
        state.pages += 1
        if state.pages - state.partition_start > state.max_pages:
            raise PaginationError(client.redact(
                f"{context}: more than {state.max_pages} pages in one run: stopping a runaway pagination "
                f"(raise sources.{stream.source}.max_pages if the data is really this large)"))
        if first and stream.conditional:
            if response.status_code == 304:
                state.etags_out[key] = state.etags_in[key]
                state.not_modified += 1
                return False
            if response.headers.get("ETag"):
                state.etags_out[key] = response.headers["ETag"]
        first = False
        stop = False
        try:
            records = _records(stream, body)
        except PaginationError as exc:
            raise PaginationError(client.redact(f"{context}: {exc} ({page.method} {client.url(page.path)})")) from None
        for record in records:
            if not isinstance(record, dict):  # landed and flagged: the guard names it and quarantines the batch
                state.writer.add(record, partition, state.pages)
                continue
            try:
                if stop_when is not None and stop_when(record, window):
                    stop = True
                    continue
            except RECORD_ERRORS:
                pass  # a malformed value: read on (harmless), the guard names the record
            problems, refs = [], []
            for child in child_streams:
                try:
                    ref = child.parent_ref(record) if child.parent_ref else {}
                    inline = child.from_parent(record) if ref is not None and child.from_parent else None
                except RECORD_ERRORS as exc:  # its children cannot be read: flag it rather than lose them quietly
                    problems.append(f"its {child.name} cannot be read "
                                    f"({type(exc).__name__}: {client.redact.cut(str(exc), 120)})")
                    continue
                if ref is not None:
                    refs.append((child.name, ref, inline))
            state.writer.add(record, partition, state.pages, problems)
            for name, ref, inline in refs:
                if name not in state.children:
                    state.children[name] = PendingChildren()
                state.children[name].add(partition, ref, inline)
        crashpoint("extract.page")
        if state.ticker is not None:
            state.ticker.tick(state, partition.id)
        try:
            page = paginator.next(page, body, response)
        except OffsetCapReached:
            if stop:
                return True
            raise
        except PaginationError as exc:
            if stop:
                return True
            raise PaginationError(client.redact(f"{context}: {exc}")) from None
        if stop:
            return page is not None
    return False


def extract_streams(
    client: HttpClient,
    streams: list[Stream],
    windows: dict[str, dict[str, Window]],
    landing_root: Path,
    *,
    etags: dict[str, dict[str, str]] | None = None,
    child_versions: dict[str, dict[tuple[str, str], str]] | None = None,
    run_id: str = "",
    progress: ProgressHook | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> list[StreamResult]:
    """Extract `streams` of one source, parents before their children, each into a new landing batch.

    `windows[stream][partition]` is the window to read. A child stream is read for the parent
    records landed by this same call, once per distinct ref (a parent record seen twice, e.g. updated
    while we paged, counts once: its last version); records a child takes from the parent record land
    without a request, on page 0. Requests that would pass an offset cap are split with the
    stream's `split` and re-read; the duplicates this lands are harmless because the loader keeps
    one row per primary key. A partition that reads more than `max_pages` pages is stopped as a
    runaway (a server whose pagination never ends).

    `child_versions[stream][(partition, child key)]` is the parent version whose children are loaded (read from
    meta.child_versions): a child stream that declares `parent_version` sends no request for a parent whose
    version is unchanged, since its children are already in raw. The versions a batch did read go into its
    manifest (`child_versions`) and are stored when it is loaded, in the same transaction as its rows.
    """
    # A family finishes before the next starts, so an extract that gives its slot back for a quota reset
    # (QuotaRelease) leaves whole families landed to resume from.
    ordered = [stream for family in families(streams) for stream in family]
    pending_children: dict[str, PendingChildren] = {}
    results = []
    try:
        for stream in ordered:
            children = [s for s in streams if stream.name in s.parents]
            if stream.parent is None:
                work = [(p, windows[stream.name][p.id], None, None) for p in stream.partitions]
            else:  # read back from disk as the child goes
                work = ((Partition(p.id, {**p.values, **ref}),
                         windows[stream.name].get(p.id, _any(windows[stream.name])), inline, ref)
                        for p, ref, inline in pending_children.get(stream.name, ()))
            result, state = _extract_one(client, stream, work, children, landing_root,
                                         (etags or {}).get(stream.name, {}), run_id, progress, max_pages,
                                         (child_versions or {}).get(stream.name, {}))
            if stream.name in pending_children:
                pending_children.pop(stream.name).close()
            for name, pending in state.children.items():
                if name in pending_children:  # a second parent of the same child (deployments, deployment_rechecks)
                    for entry in pending:
                        pending_children[name].add(*entry)
                    pending.close()
                else:
                    pending_children[name] = pending
            results.append(result)
    except QuotaRelease as exc:  # the streams done so far are committed: the caller's checkpoint
        exc.completed = list(results)
        raise
    finally:
        for pending in pending_children.values():
            pending.close()
    return results


def _not_enabled(stream: Stream, partition: Partition, exc: PermissionDenied,
                 landed: dict[str, Any] | None) -> dict[str, Any]:
    """A 403/404 that is not a rate limit on an `optional` stream, before any record of the partition landed:
    the feature is not enabled there. Anything else (a required stream, or access lost in the middle of a
    walk) stays an error."""
    if not stream.optional or (landed or {}).get("rows"):
        raise exc
    message = exc.body
    try:
        parsed = json.loads(exc.body)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):  # PagerDuty's error envelope
            parsed = parsed["error"]
        if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
            message = parsed["message"]
    except ValueError:
        pass
    log.warning("%s[%s]: not enabled (HTTP %s: %s)", stream.key, partition.id or "*", exc.status, message)
    return {"status": "not_enabled", "status_code": exc.status, "message": message[:500]}  # redacted in http.py


def _any(windows: dict[str, Window]) -> Window:
    return next(iter(windows.values()))


def _unchanged_parent(stream: Stream, partition_id: str, ref: dict[str, str] | None,
                      versions_in: dict[tuple[str, str], str]) -> tuple[tuple[str, str, str] | None, bool]:
    """For a child that declares `parent_version`: (the version entry to record once read, whether the loaded
    children are of this same version, so no request is needed). A parent without a version is always read."""
    if stream.parent_version is None or ref is None or not ref.get(stream.parent_version):
        return None, False
    entry = (partition_id, child_key(ref, stream.parent_version), ref[stream.parent_version])
    return entry, versions_in.get(entry[:2]) == entry[2]


def _extract_one(client, stream, work, children, landing_root, etags_in, run_id, progress,
                 max_pages=DEFAULT_MAX_PAGES, versions_in=None):
    started = time.monotonic()
    before, points_before = client.stats.requests, client.stats.points
    state = _Run(writer=LandingWriter(landing_root, stream, new_batch_id()), etags_in=etags_in,
                 max_pages=max_pages, ticker=Ticker(progress, client, stream, PROGRESS_EVERY_S))
    if progress is not None:  # a quota wait shows as a progress line naming the stream and the reset time
        client.wait_hook = lambda wait: progress({"event": "waiting", "stream": stream.key, **wait})
    partitions_meta: dict[str, dict[str, Any]] = {}
    # (partition, child key) -> entry, one per parent. A parent listed twice at two versions (updated while we
    # paged) has both read; keep the greatest version (ISO timestamps in one format: the newest), whose listing
    # the raw merge keeps when the version is also the child's cursor (pull_updated_at).
    versions_out: dict[tuple[str, str], tuple[str, str, str]] = {}
    skipped = 0
    try:
        for partition, window, inline, ref in work:
            partition = Partition(partition.id, {**partition.values, WINDOW_END: window.end.isoformat()})
            pages_before = state.partition_start = state.pages
            if inline is not None:
                for record in inline:
                    state.writer.add(record, partition, 0)
            entry, unchanged = (None, False) if inline is not None else _unchanged_parent(
                stream, partition.id, ref, versions_in or {})
            skipped += unchanged
            queue = [] if inline is not None or unchanged else list(stream.requests(partition, window))
            coverage = {"status": "ok"}
            cut = False
            while queue:
                request = queue.pop(0)
                if request.only_if_cut and not cut:
                    continue
                try:
                    cut = _walk(client, stream, request, window, partition, state, children)
                except OffsetCapReached:
                    if stream.split is None:
                        raise
                    parts = stream.split(request)
                    log.info("%s: query passes the offset cap, split into %d", stream.key, len(parts))
                    queue[:0] = parts
                except PermissionDenied as exc:
                    coverage = _not_enabled(stream, partition, exc, state.writer.partitions.get(partition.id))
                    queue.clear()
            meta = partitions_meta.setdefault(partition.id, {
                "window_start": window.start.isoformat() if window.start else None,
                "window_end": window.end.isoformat(), "pages": 0,
                **({"revisit": len(window.revisit)} if stream.revisit is not None else {})})
            meta["pages"] += state.pages - pages_before
            meta.update(state.writer.partitions.get(partition.id, {"rows": 0, "max_cursor": None}))
            if meta.get("status") != "not_enabled":
                meta.update(coverage)
            if entry is not None and not unchanged and coverage["status"] == "ok":
                versions_out[entry[:2]] = max(entry, versions_out.get(entry[:2], entry))
            if progress and stream.parent is None:
                progress({"event": "partition", "stream": stream.key, "partition": partition.id, **meta})
        manifest = {
            "run_id": run_id,
            "extracted_at": datetime.now(UTC).isoformat(),
            "pages": state.pages,
            "requests": client.stats.requests - before,
            "points": client.stats.points - points_before,
            "not_modified": state.not_modified,
            "etags": state.etags_out,
            "child_versions": list(versions_out.values()),
            "skipped_unchanged_parents": skipped,
            "parent": stream.parent,
            "partitions": partitions_meta,
        }
        final = state.writer.commit(manifest)
        manifest = read_manifest(final)
        state.ticker.tick(state, None, "done")
    except BaseException:
        state.writer.abort()
        raise
    result = StreamResult(stream=stream.key, batch_dir=final, rows=state.writer.rows, pages=state.pages,
                          requests=manifest["requests"], seconds=time.monotonic() - started, manifest=manifest)
    return result, state


def extract_stream(client: HttpClient, stream: Stream, windows: dict[str, Window], landing_root: Path, *,
                   run_id: str = "", progress: ProgressHook | None = None) -> StreamResult:
    """One stream without children (tests and simple callers)."""
    return extract_streams(client, [stream], {stream.name: windows}, landing_root, run_id=run_id,
                           progress=progress)[0]
