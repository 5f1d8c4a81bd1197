"""Minimum requests of one run, per stream, from what the run landed and stored.

For every stream: the run's landing batches (their manifests give the requests we made) joined with the
raw rows those batches inserted or replaced (the records that were new or changed). A top-level stream
needs ceil(records / largest page) per partition walked (at least one); a child stream needs
ceil(children / largest page) per parent whose children came by request (`_page > 0`; children taken
from the parent record land on page 0 and cost nothing). A stream reading loaded records again by id needs
ceil(ids asked / 100) per partition, every one of them (bench/floors.py, `minimum_revisit`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from bench.floors import max_page, minimum_child, minimum_revisit, minimum_top_level, walked_partitions
from extractors.landing import read_manifest
from extractors.streams import WINDOW_END, Stream
from opskpi.warehouse import quote_ident


def _q(name: str) -> str:
    return quote_ident(name)


def stream_minimum(con: duckdb.DuckDBPyConnection, stream: Stream, batches: list[Path]) -> dict[str, Any]:
    page = max_page(stream.source, stream.name)
    manifests = [read_manifest(b) for b in batches]
    requests = sum(int(m.get("requests", 0)) for m in manifests)
    points = sum(int(m.get("points", 0)) for m in manifests)  # GitHub GraphQL points (0 for REST streams)
    landed = sum(int(m.get("rows", 0)) for m in manifests)
    walked = {p for m in manifests for p in walked_partitions(m.get("partitions") or {})}
    out = {"stream": stream.key, "requests": requests, "points": points, "rows_landed": landed, "page_max": page,
           "records": 0, "minimum": 0}
    if stream.revisit is not None:  # every id asked is required (bench/floors.py, minimum_revisit)
        asked = [int(meta.get("revisit", 0)) for m in manifests for meta in (m.get("partitions") or {}).values()]
        out["records"] = sum(asked)
        out["minimum"] = minimum_revisit(asked, page)
        return out
    files = [str(b / f) for b, m in zip(batches, manifests, strict=True) for f in m["files"]]
    table = f"raw.{_q(stream.key)}"
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw' "
                         "AND table_name = ?", [stream.key]).fetchone()[0]
    if not files or not exists:
        out["minimum"] = minimum_top_level({}, walked, page) if stream.parent is None else 0
        return out
    pk = list(stream.primary_key)
    refs = [c.name for c in stream.columns
            if c.partition_key and c.partition_key != WINDOW_END and c.name != stream.cursor and c.name in pk]
    pk_land = ", ".join(_q(c) for c in pk)
    pk_raw = ", ".join(f"CAST({_q(c)} AS VARCHAR) AS {_q(c)}" for c in pk)
    join = " AND ".join(f"l.{_q(c)} = r.{_q(c)}" for c in pk)
    ids = [m["batch_id"] for m in manifests]
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _changed AS
            WITH l AS (SELECT {pk_land}, any_value(_partition) AS _partition, max(_page) AS _page
                       FROM read_parquet(?) GROUP BY ALL),
                 r AS (SELECT {pk_raw} FROM {table} WHERE _batch_id IN (SELECT unnest(?)))
            SELECT l.* FROM l JOIN r ON {join}""",
        [files, ids],
    )
    out["records"] = con.execute("SELECT count(*) FROM _changed").fetchone()[0]
    if stream.parent is None:
        per_partition = dict(con.execute("SELECT _partition, count(*) FROM _changed GROUP BY 1").fetchall())
        out["minimum"] = minimum_top_level(per_partition, walked, page)
    else:
        group = ", ".join(["_partition"] + [_q(c) for c in refs])
        counts = [n for (n,) in con.execute(
            f"SELECT count(*) FROM _changed WHERE _page > 0 GROUP BY {group}").fetchall()]
        out["minimum"] = minimum_child(counts, page)
        out["parents_requested"] = len(counts)
    con.execute("DROP TABLE _changed")
    return out


def run_minimums(warehouse: Path, streams: list[Stream], batches: dict[str, list[Path]]) -> list[dict[str, Any]]:
    """Per stream (key `source__name`): requests made, records new or changed, minimum requests."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [stream_minimum(con, s, batches.get(s.key, [])) for s in streams]
