"""The warehouse half of `Revisit` streams: which loaded records they read again this run.

For each stream that declares `revisit` (GitHub's `deployment_rechecks`), per partition: the ids and creation
times of the loaded records of the stream it revisits (`raw.<source>__<of>`), and the end of its last loaded
revisit batch (meta.stream_coverage, written in the load's transaction: a revisit that was extracted but never
loaded counts as not done). extractors/revisit.py picks the ids; they reach the stream in its window.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any

from extractors.revisit import select
from extractors.streams import WINDOW_END, Stream, Window
from opskpi.warehouse import quote_ident

log = logging.getLogger(__name__)


def _table_exists(con, schema: str, table: str) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [schema, table]).fetchone()[0] > 0


def _known(con, table: str, of: Stream, stream: Stream, values: dict[str, str]
           ) -> list[tuple[str, datetime, str | None]]:
    """(id, created, the `nightly` column) of the partition's loaded records: its rows are those whose partition
    columns hold its values (a GitHub repository's deployments: `repo`)."""
    keys = [c for c in of.columns if c.partition_key and c.partition_key != WINDOW_END and c.partition_key in values]
    where = " AND ".join(f"{quote_ident(c.name)} = ?" for c in keys) or "TRUE"
    created = quote_ident(stream.revisit.created)
    nightly = f"CAST({quote_ident(stream.revisit.nightly[0])} AS VARCHAR)" if stream.revisit.nightly else "NULL"
    return con.execute(
        f"SELECT json_extract_string(record, ?), {created}, {nightly} FROM raw.{quote_ident(table)} "
        f"WHERE {where} AND {created} IS NOT NULL",
        ["$." + stream.revisit.id_path, *(values[c.partition_key] for c in keys)]).fetchall()


def _previous_ends(con, source: str, stream: str) -> dict[str, datetime]:
    if not _table_exists(con, "meta", "stream_coverage"):
        return {}
    return dict(con.execute(
        "SELECT partition_id, max(window_end) FROM meta.stream_coverage WHERE source = ? AND stream = ? "
        "AND status = 'ok' GROUP BY partition_id", [source, stream]).fetchall())


def revisit_windows(con, source: str, streams: list[Stream], windows: dict[str, dict[str, Window]],
                    earliest: datetime | None = None) -> dict[str, dict[str, Window]]:
    """`windows` with the ids to read again in the windows of the streams that declare `revisit` (none when the
    warehouse has no loaded records of the stream they revisit: a first run lists everything anyway); records
    created before `earliest` (the guard's lower bound, pipeline.timestamp_bounds) are left alone."""
    by_name = {s.name: s for s in streams}
    out = dict(windows)
    for stream in streams:
        if stream.revisit is None:
            continue
        of = by_name.get(stream.revisit.of)
        table = f"{source}__{stream.revisit.of}"
        if of is None or con is None or not _table_exists(con, "raw", table):
            continue
        previous = _previous_ends(con, source, stream.name)
        chosen: dict[str, Any] = {}
        for partition in stream.partitions:
            window = windows[stream.name][partition.id]
            of_window = windows[of.name].get(partition.id)
            if of_window is None:
                chosen[partition.id] = window
                continue
            ids = select(_known(con, table, of, stream, partition.values), stream.revisit, of_window, window.end,
                         previous.get(partition.id), earliest)
            chosen[partition.id] = dataclasses.replace(window, revisit=ids)
            log.info("%s[%s]: %d loaded records to read again", stream.key, partition.id, len(ids))
        out[stream.name] = chosen
    return out
