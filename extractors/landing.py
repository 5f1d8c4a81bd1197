"""Immutable landing batches: Parquet parts plus a manifest, written so a crash never leaves half a batch.

A batch is written under `<batch>.partial/` and renamed into place only after its manifest is on
disk, so a reader that sees `<batch>/_manifest.json` sees a complete batch. Records are flushed to a
new part every `rows_per_part` rows, so memory stays flat however long the stream is.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from extractors.streams import Partition, Stream, parse_timestamp

MANIFEST = "_manifest.json"


def new_batch_id(now: datetime | None = None) -> str:
    """Sortable by time (load applies batches in this order), unique across parallel writers."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(3)}"


def batch_dir(landing_root: Path, stream: Stream, batch_id: str) -> Path:
    return landing_root / stream.source / stream.name / batch_id


def write_json_atomic(path: Path, payload: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


class LandingWriter:
    def __init__(self, landing_root: Path, stream: Stream, batch_id: str, rows_per_part: int = 20_000):
        self.stream = stream
        self.batch_id = batch_id
        self.final_dir = batch_dir(landing_root, stream, batch_id)
        self.dir = self.final_dir.with_name(batch_id + ".partial")
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        self.rows_per_part = rows_per_part
        self.schema = pa.schema(
            [pa.field(c.name, pa.string()) for c in stream.columns]
            + [pa.field("_partition", pa.string()), pa.field("_page", pa.int64()), pa.field("_seq", pa.int64())]
            + [pa.field("record", pa.string())]
        )
        self._buffer: dict[str, list[Any]] = {f.name: [] for f in self.schema}
        self._seq = 0
        self.files: list[str] = []
        self.partitions: dict[str, dict[str, Any]] = {}

    def add(self, record: dict[str, Any], partition: Partition, page: int = 0) -> None:
        for column in self.stream.columns:
            self._buffer[column.name].append(column.value(record, partition.values))
        self._buffer["_partition"].append(partition.id)
        self._buffer["_page"].append(page)
        self._buffer["_seq"].append(self._seq)
        self._buffer["record"].append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        self._seq += 1
        stats = self.partitions.setdefault(partition.id, {"rows": 0, "max_cursor": None})
        stats["rows"] += 1
        if self.stream.cursor:
            self._track_cursor(stats, self._buffer[self.stream.cursor][-1])
        if len(self._buffer["_seq"]) >= self.rows_per_part:
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
            except ValueError:
                return  # the guard reports unparseable timestamps; they never move a watermark
        if stats["max_cursor"] is None or value > stats["max_cursor"]:
            stats["max_cursor"] = value

    def _flush(self) -> None:
        if not self._buffer["_seq"]:
            return
        name = f"part-{len(self.files):05d}.parquet"
        table = pa.Table.from_pydict(self._buffer, schema=self.schema)
        pq.write_table(table, self.dir / name, compression="zstd")
        self.files.append(name)
        self._buffer = {f.name: [] for f in self.schema}

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Flush, write the manifest, then make the batch visible with one rename."""
        self._flush()
        if not self.files:  # an empty batch still records that the window was read
            pq.write_table(self.schema.empty_table(), self.dir / "part-00000.parquet")
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
            "timestamps": list(self.stream.timestamps),
            "ordered": [list(pair) for pair in self.stream.ordered],
            "primary_key": list(self.stream.primary_key),
            "cursor": self.stream.cursor,
            "written_at": datetime.now(UTC).isoformat(),
        }
        write_json_atomic(self.dir / MANIFEST, manifest)
        os.replace(self.dir, self.final_dir)
        return self.final_dir

    def abort(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def read_manifest(directory: Path) -> dict[str, Any]:
    return json.loads((directory / MANIFEST).read_text())


def complete_batches(landing_root: Path, source: str, stream: str) -> list[Path]:
    """Batches whose manifest exists, oldest first. Partial directories are ignored."""
    root = landing_root / source / stream
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / MANIFEST).exists())
