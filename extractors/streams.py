"""What a stream is: data, not code paths.

A source module declares its streams with these types; the engine runs any of them. The typed
columns are the few values the warehouse needs to merge and guard a record (primary key, cursor,
timestamps to check); the whole record always travels with them as JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from extractors.pagination import PageRequest, Paginator

ColumnKind = Literal["string", "integer", "timestamp"]

# The end of the window a record was read in (ISO-8601 UTC), offered to columns as a partition value:
# `Column("read_at", kind="timestamp", partition_key=WINDOW_END)` stamps snapshot-like streams with their read.
WINDOW_END = "_window_end"


@dataclass(frozen=True)
class Column:
    """A typed value lifted out of the record (`path`, dotted) or taken from the partition (`partition_key`)."""

    name: str
    path: str | None = None
    kind: ColumnKind = "string"
    partition_key: str | None = None

    def raw(self, record: dict[str, Any]) -> Any:
        """The value at `path` as the API sent it (None when absent)."""
        node: Any = record
        for part in (self.path or self.name).split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def value(self, record: dict[str, Any], partition: dict[str, str]) -> str | None:
        if self.partition_key is not None:
            return partition.get(self.partition_key)
        node = self.raw(record)
        if node is None or isinstance(node, (dict, list)):
            return None if node is None else str(node)
        if isinstance(node, bool):
            return "true" if node else "false"
        return str(node)


@dataclass(frozen=True)
class Window:
    """The slice of history one run reads: from the watermark minus the lookback up to the run's end."""

    start: datetime | None
    end: datetime
    # True when `start` comes from a watermark: earlier loaded runs read everything before it, so a stream may
    # rely on them (the security-alert streams skip their whole-backlog walk). False on a first run or a full
    # refresh, whose start is only the history limit.
    resumed: bool = False
    # Ids of loaded records a stream that declares `revisit` reads again this run (chosen by the caller before the
    # run, see Revisit); empty for every other stream.
    revisit: tuple[str, ...] = ()


@dataclass(frozen=True)
class Revisit:
    """Records already loaded that a stream reads again by id, because no list of them shows that they changed:
    a new status does not move a GitHub deployment's `updatedAt`, and deployments list by creation only.

    Before a run the caller (opskpi/revisit.py) reads the ids and `created` times of the loaded records of stream
    `of` and picks (extractors/revisit.py): every record created within `recent` before the run's end, plus a
    rotating slice of the older ones, 1/`sweep` of them a day, so each is read again within `sweep` days; records
    that `of` lists again itself this run (created at or after `listed_from(of's window)`) are left to it. The
    chosen ids reach the stream's `requests` as `Window.revisit`."""

    of: str
    id_path: str  # where the id the API takes is in the loaded record (JSON path below `record`)
    created: str  # the column of `of` dating its records
    recent: timedelta
    sweep: int
    listed_from: Callable[[Window], datetime | None]
    # (column, lower-case values): within `recent`, only records whose `column` is one of them are read every
    # night (the deployments a KPI counts: production environments); the others wait for their sweep slice.
    # None: every recent record.
    nightly: tuple[str, frozenset[str]] | None = None


@dataclass(frozen=True)
class Partition:
    """One independent walk of a stream (a repository, a project set); watermarks are kept per partition."""

    id: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stream:
    source: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    records_key: str | None  # None when the body itself is the list of records
    paginator: Callable[[], Paginator]
    requests: Callable[[Partition, Window], Iterable[PageRequest]]
    cursor: str | None = None
    partitions: tuple[Partition, ...] = (Partition(""),)
    # The column naming the partition a record belongs to, on a stream that was once read unpartitioned (Jira
    # issues, now per project: `project_key`). A partition without a watermark of its own then starts from the old
    # unpartitioned ("") watermark when raw already holds its records, so splitting a stream re-reads no history;
    # one whose records raw lacks (a project new to the config) reads its history whole.
    partition_column: str | None = None
    # Sorted-descending streams (GitHub pulls by `updated`) stop once past the window's start.
    stop_when: Callable[[dict[str, Any], Window], bool] | None = None
    # Streams with an offset cap split a request that would pass it into narrower ones.
    split: Callable[[PageRequest], list[PageRequest]] | None = None
    # Columns that must parse as ISO-8601 timestamps with an offset (checked by the guard).
    timestamps: tuple[str, ...] = ()
    # Pairs (earlier, later) that must be ordered when both are present, e.g. created ≤ resolved.
    ordered: tuple[tuple[str, str], ...] = ()
    # A child stream is read once per record of its parent (same source) landed in the same run:
    # `parent_ref` turns a parent record into context values (None skips it), which the child's
    # `requests` see as partition values and its columns can pick with `partition_key`.
    parent: str | tuple[str, ...] | None = None  # several: the child is read for the records of each
    parent_ref: Callable[[dict[str, Any]], dict[str, str] | None] | None = None
    # A child may take its records straight from the parent record when the parent carries them complete
    # (an embedded list that was not cut): `from_parent` returns those records and no request is sent;
    # None means "not complete here", and the child's `requests` are read as usual.
    from_parent: Callable[[dict[str, Any]], list[dict[str, Any]] | None] | None = None
    # The ref value (a key of what `parent_ref` returns) that changes whenever the child's records can change,
    # e.g. the pull request's `updated_at` for its commits. When set, the engine skips the child's requests if
    # the same version was read and loaded before (meta.child_versions, stored in the load's transaction). Leave
    # it None when children can change without the parent changing (deployment statuses).
    parent_version: str | None = None
    # Re-read this much before the watermark instead of the source's `lookback`: for append-only streams
    # (PagerDuty log entries), whose records never change once listed, only late arrivals need a margin.
    lookback: timedelta | None = None
    # Send If-None-Match with the ETag kept from the last run for the first page of each request;
    # a 304 means that walk has nothing new (GitHub does not count 304s against the rate limit).
    conditional: bool = False
    # A partition may answer "not enabled here" (403/404 that is not a rate limit, e.g. a repository without code
    # scanning): the engine lands nothing for it, records {"status": "not_enabled", "status_code", "message"} in
    # the manifest's partition entry, and goes on; the loader keeps it in meta.stream_coverage.
    optional: bool = False
    # The body is one record, not a list of them (GET /repos/{owner}/{repo}): one request, one record.
    single_record: bool = False
    # The stream reads loaded records again by id (see Revisit). An id that no longer resolves (a deleted
    # deployment) comes back as a null record: skipped, not landed.
    revisit: Revisit | None = None

    @property
    def parents(self) -> tuple[str, ...]:
        if self.parent is None:
            return ()
        return (self.parent,) if isinstance(self.parent, str) else tuple(self.parent)

    @property
    def key(self) -> str:
        return f"{self.source}__{self.name}"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def families(streams: Iterable[Stream]) -> list[list[Stream]]:
    """The streams grouped into families (joined by parent links, a child of several parents joining them all), each
    parents-first, in the order their first member was given. A family is what must be read, and skipped on a
    resume, together: a child reads the records its parents read in the same call."""
    streams = list(streams)
    names = {s.name for s in streams}
    group = {s.name: s.name for s in streams}

    def find(name: str) -> str:
        while group[name] != name:
            name = group[name]
        return name

    for stream in streams:
        for parent in stream.parents:
            if parent in names:
                group[find(stream.name)] = find(parent)
    out: dict[str, list[Stream]] = {}
    placed: set[str] = set()
    pending = list(streams)
    while pending:  # parents first: a stream is placed once every parent it has here is placed
        ready = [s for s in pending if all(p in placed or p not in names for p in s.parents)]
        if not ready:
            raise ValueError(f"streams with a parent cycle: {[s.name for s in pending]}")
        for stream in ready:
            out.setdefault(find(stream.name), []).append(stream)
            placed.add(stream.name)
        pending = [s for s in pending if s.name not in placed]
    order = {find(s.name): i for i, s in reversed(list(enumerate(streams)))}
    return [out[root] for root in sorted(out, key=order.__getitem__)]


def parse_timestamp(value: str) -> datetime:
    """Parse the ISO-8601 forms our APIs send (`Z`, `+00:00`, Jira's `+0000`); naive values are refused."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return parsed
