"""Immutable landing batches: Parquet parts plus a manifest, written so a crash never leaves half a batch.

A batch is written under `<batch>.partial/` and renamed into place only after its manifest is on
disk, so a reader that sees `<batch>/_manifest.json` sees a complete batch. Records are flushed to a
new part every `rows_per_part` rows or `part_bytes` of record text, whichever comes first, so memory stays
flat however long the stream is and however large its records (a Jira issue with its changelog: ~15 KB).

A `.partial` directory left by a crashed writer is never read (`complete_batches` skips it) and is
removed by `sweep_partials` once the process that wrote it is gone.

On an object store (extractors/landing_store.py) there is no directory rename: the parts go straight to the
batch's prefix and the manifest, written last with a conditional PUT (`If-None-Match: *`), is what publishes
the batch; readers list only prefixes that hold a manifest. S3 is strongly consistent for every PUT and LIST
since 2020, so a reader that sees the manifest sees every part it names. Before its first part a writer puts a
marker under `_writers/` (refreshed with each part, removed after the manifest): `sweep_partials` reads only
those markers, not the whole landing tree, and removes the parts of a writer that is gone.

Every record lands, whatever its shape. One the warehouse could not store as declared (not an object,
an object where a key or timestamp belongs, an integer column that is not an integer, a timestamp the
warehouse cannot cast, text that is not valid Unicode) lands with the reason in `_problem`, and the
guard quarantines its batch naming the record and the rule, instead of the load failing later.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import shutil
import socket
import time
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa

from extractors import landing_store
from extractors.crashpoints import crashpoint
from extractors.landing_store import StorePath
from extractors.streams import Column, Partition, Stream, parse_timestamp

log = logging.getLogger(__name__)

MANIFEST = landing_store.MANIFEST
PARTIAL = ".partial"
# On an object store: `<root>/_writers/<source>/<stream>/<batch_id>.json` per batch being written.
WRITERS = "_writers"
OWNER = "_owner.json"
PROBLEM = "_problem"
# A partial directory whose owner cannot be identified is removed once it is this old.
STALE_PARTIAL_S = 24 * 3600
# What the warehouse casts without loss: BIGINT, and ISO-8601 instants with an explicit offset.
_INTEGER = re.compile(r"^-?\d{1,18}$")
_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})$")


def value_problem(column: Column, node: Any) -> str | None:
    """Why a typed column's raw value cannot be stored as declared, or None when it can (or is absent)."""
    if node is None:
        return None
    if isinstance(node, (dict, list)):
        return f"{column.name} is {'an object' if isinstance(node, dict) else 'a list'}, not a {column.kind}"
    if column.kind == "integer":
        text = "true" if node is True else "false" if node is False else str(node)
        if isinstance(node, bool) or not _INTEGER.match(text):
            return f"{column.name}: {text[:80]!r} is not an integer"
    if column.kind == "timestamp":
        text = str(node)
        if not _ISO_INSTANT.match(text):
            return f"{column.name}: {text[:80]!r} is not an ISO-8601 timestamp with a UTC offset"
        try:
            parse_timestamp(text).astimezone(UTC)
        except (ValueError, OverflowError):
            return f"{column.name}: {text[:80]!r} is not a valid instant"
    return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone UTF-16 surrogate, e.g. from a JSON "\ud800" escape
        return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def new_batch_id(now: datetime | None = None) -> str:
    """Sortable by time (load applies batches in this order), unique across parallel writers."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(3)}"


def batch_dir(landing_root: StorePath, stream: Stream, batch_id: str) -> StorePath:
    return landing_root / stream.source / stream.name / batch_id


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, indent=2, sort_keys=True, default=str).encode()


def write_json_atomic(path: StorePath, payload: Any) -> None:
    landing_store.write_replace(path, _json_bytes(payload))


def _owner() -> bytes:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode()


class LandingWriter:
    # Small enough that a medium-sized stream already reaches them: peak memory is then the same at any volume.
    def __init__(self, landing_root: StorePath, stream: Stream, batch_id: str, rows_per_part: int = 5_000,
                 part_bytes: int = 8 * 1024 * 1024):
        self.stream = stream
        self.batch_id = batch_id
        self.final_dir = batch_dir(landing_root, stream, batch_id)
        self.local = landing_store.is_local(landing_root)
        if self.local:
            self.dir = self.final_dir.with_name(batch_id + PARTIAL)
            if self.dir.exists():
                shutil.rmtree(self.dir)
            self.dir.mkdir(parents=True)
            # Who writes here: `sweep_partials` removes the directory once that process is gone.
            (self.dir / OWNER).write_bytes(_owner())
        else:  # no rename on an object store: the parts go to the batch's own prefix, the manifest publishes it
            self.dir = self.final_dir
            self.marker = landing_root / WRITERS / stream.source / stream.name / f"{batch_id}.json"
            self.marker.write_bytes(_owner())
        self.rows_per_part = rows_per_part
        self.part_bytes = part_bytes
        self._bytes = 0  # record text buffered
        self.schema = pa.schema(
            [pa.field(c.name, pa.string()) for c in stream.columns]
            + [pa.field("_partition", pa.string()), pa.field("_page", pa.int64()), pa.field("_seq", pa.int64())]
            + [pa.field("record", pa.string()), pa.field(PROBLEM, pa.string())]
        )
        self._buffer: dict[str, list[Any]] = {f.name: [] for f in self.schema}
        self._seq = 0
        self.files: list[str] = []
        self.partitions: dict[str, dict[str, Any]] = {}

    def add(self, record: Any, partition: Partition, page: int = 0, problems: list[str] | None = None) -> None:
        """Buffer one record; `problems` are reasons found by the caller why it cannot be used as is."""
        problems = list(problems or [])
        if not isinstance(record, dict):
            problems.append(f"the record is {'a list' if isinstance(record, list) else type(record).__name__}, "
                            "not an object")
        for column in self.stream.columns:
            if isinstance(record, dict):
                if column.partition_key is None:
                    problem = value_problem(column, column.raw(record))
                    if problem:
                        problems.append(problem)
                value = column.value(record, partition.values)
            else:
                value = partition.values.get(column.partition_key) if column.partition_key else None
            if value is not None and not _utf8(value):
                problems.append(f"{column.name} is not valid Unicode")
                value = value.encode("utf-8", "backslashreplace").decode("utf-8")
            self._buffer[column.name].append(value)
        try:
            text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except ValueError:  # NaN or Infinity: not JSON, whatever Python's parser let through
            problems.append("the record holds NaN or Infinity, which JSON does not allow")
            text = json.dumps(_finite(record), ensure_ascii=False, separators=(",", ":"))
        if not _utf8(text):
            problems.append("the record holds text that is not valid Unicode (a lone surrogate)")
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        self._buffer["_partition"].append(partition.id)
        self._buffer["_page"].append(page)
        self._buffer["_seq"].append(self._seq)
        self._buffer["record"].append(text)
        self._bytes += len(text)
        self._buffer[PROBLEM].append("; ".join(problems) or None)
        self._seq += 1
        stats = self.partitions.setdefault(partition.id, {"rows": 0, "max_cursor": None})
        stats["rows"] += 1
        if self.stream.cursor and not problems:
            self._track_cursor(stats, self._buffer[self.stream.cursor][-1])
        if len(self._buffer["_seq"]) >= self.rows_per_part or self._bytes >= self.part_bytes:
            self._flush()

    @property
    def rows(self) -> int:
        return self._seq

    def _track_cursor(self, stats: dict[str, Any], value: str | None) -> None:
        if value is None:
            return
        if self.stream.column(self.stream.cursor).kind == "timestamp":
            try:
                value = parse_timestamp(value).astimezone(UTC).isoformat()
            except (ValueError, OverflowError):
                return  # the guard reports unparseable timestamps; they never move a watermark
        if stats["max_cursor"] is None or value > stats["max_cursor"]:
            stats["max_cursor"] = value

    def _flush(self) -> None:
        if not self._buffer["_seq"]:
            return
        name = f"part-{len(self.files):05d}.parquet"
        table = pa.Table.from_pydict(self._buffer, schema=self.schema)
        landing_store.write_parquet(table, self.dir / name, compression="zstd")
        self.files.append(name)
        self._buffer = {f.name: [] for f in self.schema}
        self._bytes = 0
        if not self.local:
            self.marker.write_bytes(_owner())  # its age is the time since the last part: a live writer is not swept
        crashpoint("landing.part_written")

    def commit(self, manifest: dict[str, Any]) -> StorePath:
        """Flush, write the manifest, then make the batch visible: with one rename, or on an object store by the
        manifest itself, put last and only if no manifest is there (a batch is never overwritten)."""
        self._flush()
        if not self.files:  # an empty batch still records that the window was read
            landing_store.write_parquet(self.schema.empty_table(), self.dir / "part-00000.parquet")
            self.files.append("part-00000.parquet")
        manifest = {
            "partitions": self.partitions,
            **manifest,
            "batch_id": self.batch_id,
            "source": self.stream.source,
            "stream": self.stream.name,
            "rows": self._seq,
            "files": self.files,
            "columns": [c.name for c in self.stream.columns],
            "column_kinds": {c.name: c.kind for c in self.stream.columns},
            "column_paths": {c.name: c.path or c.name for c in self.stream.columns if c.partition_key is None},
            "timestamps": list(self.stream.timestamps),
            "ordered": [list(pair) for pair in self.stream.ordered],
            "primary_key": list(self.stream.primary_key),
            "cursor": self.stream.cursor,
            "written_at": datetime.now(UTC).isoformat(),
        }
        if not self.local:
            crashpoint("landing.before_manifest")
            landing_store.create_new(self.dir / MANIFEST, _json_bytes(manifest))
            self.marker.unlink(missing_ok=True)
            return self.final_dir
        write_json_atomic(self.dir / MANIFEST, manifest)
        crashpoint("landing.before_rename")
        os.replace(self.dir, self.final_dir)
        (self.final_dir / OWNER).unlink(missing_ok=True)
        return self.final_dir

    def abort(self) -> None:
        landing_store.remove_tree(self.dir)
        if not self.local:
            self.marker.unlink(missing_ok=True)


def read_manifest(directory: StorePath) -> dict[str, Any]:
    return json.loads((directory / MANIFEST).read_text())


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def complete_batches(landing_root: StorePath, source: str, stream: str) -> list[StorePath]:
    """Batches whose manifest exists, oldest first. Partial directories are ignored, even one a crash
    left with its manifest already written (the rename is what publishes a batch); on an object store, prefixes
    without a manifest."""
    root = landing_root / source / stream
    if not landing_store.is_local(landing_root):
        # One flat listing of the stream's prefix (a LIST per 1,000 objects); a glob `*/_manifest.json` would
        # walk it one LIST per batch.
        base = root.path.rstrip("/") + "/"
        names = {key[len(base):].split("/")[0] for key in root.fs.find(root.path)
                 if key.startswith(base) and key[len(base):].count("/") == 1 and key.endswith(f"/{MANIFEST}")}
        return [root / name for name in sorted(names)]
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and not p.name.endswith(PARTIAL) and (p / MANIFEST).exists())


def _gone(owner_text: str | bytes, host: str) -> bool:
    """Whether the owner file names a process of this host that no longer runs."""
    try:
        owner = json.loads(owner_text)
        return owner.get("host") == host and not _pid_alive(int(owner["pid"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def sweep_partials(landing_root: StorePath, now: float | None = None) -> list[StorePath]:
    """Remove `.partial` batch directories whose writer is gone (crashed or killed); returns them.

    A directory whose owner process still runs on this host is left alone (a parallel extract is
    writing it), unless it has not changed for a day (its pid was reused); one written on another host
    or without a readable owner is removed once it has not changed for a day. On an object store the same
    rules apply to the writers' markers (`_writers/`) and the parts of their batches.
    """
    now = time.time() if now is None else now
    host = socket.gethostname()
    if not landing_store.is_local(landing_root):
        return _sweep_object_store(landing_root, now, host)
    removed: list[Path] = []
    if not landing_root.exists():
        return removed
    for partial in landing_root.glob(f"*/*/*{PARTIAL}"):
        if not partial.is_dir():
            continue
        try:
            stale = now - partial.stat().st_mtime > STALE_PARTIAL_S
        except FileNotFoundError:
            continue
        try:
            stale = stale or _gone((partial / OWNER).read_text(), host)
        except OSError:
            pass
        if stale:
            shutil.rmtree(partial, ignore_errors=True)
            removed.append(partial)
            log.warning("removed the unfinished landing batch %s left by a crashed run", partial)
    return removed


def _sweep_object_store(landing_root: StorePath, now: float, host: str) -> list[StorePath]:
    """The object-store sweep: one LIST of the writers' markers (as many as batches being written, not all the
    batches ever landed); a stale marker's batch prefix is removed unless its manifest made it a batch (a writer
    killed between its manifest and the marker's removal), then the marker."""
    removed = []
    writers = landing_root / WRITERS
    fs = landing_root.fs
    for key, info in fs.find(writers.path, detail=True).items():
        rel = PurePosixPath(key[len(writers.path.rstrip("/")) + 1:])
        if len(rel.parts) != 3 or rel.suffix != ".json":
            continue
        source, stream, name = rel.parts[0], rel.parts[1], rel.stem
        modified = info.get("LastModified")
        stale = modified is not None and now - modified.timestamp() > STALE_PARTIAL_S
        try:
            stale = stale or _gone(fs.cat_file(key), host)
        except FileNotFoundError:  # its writer committed (or aborted) since the listing
            continue
        if not stale:
            continue
        batch = landing_root / source / stream / name
        if not (batch / MANIFEST).exists():
            landing_store.remove_tree(batch)
            removed.append(batch)
            log.warning("removed the unfinished landing batch %s left by a crashed run", batch)
        fs.rm_file(key)
    return removed
