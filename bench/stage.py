"""One benchmark stage in its own process: `python -m bench.stage SPEC.json`.

The harness starts one of these per stage (per partition for extracts), so each stage's peak RSS is
its own and reads cleanly from `wait4`. The spec names the stage and its arguments; the process writes
`{"seconds": …, "result": …}` to `spec["out"]`, where `seconds` times the stage's work only (imports
and interpreter start-up are outside it, and inside the wall time the harness measures).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any


def _context(spec: dict[str, Any]):
    from opskpi.config import load_config
    from opskpi.pipeline import RunContext

    config = load_config(spec["config"])
    now = datetime.fromisoformat(spec["now"].replace("Z", "+00:00")).astimezone(UTC)
    ctx = RunContext.for_date(config, date.fromisoformat(spec["run_date"]), spec["run_id"], now=now)
    return config, ctx


def extract_only(config, source_name: str, ctx, partition: str | None, stream_names: list[str]) -> dict[str, Any]:
    """`pipeline.extract` restricted to some streams (the peer comparison reads only pulls and incidents)."""
    from extractors.engine import extract_streams
    from extractors.sources import build_source
    from opskpi import pipeline

    source = build_source(source_name, config.source_settings(source_name))
    streams = [s for s in source.streams if s.name in stream_names]
    if partition is not None:
        streams = [s for s in (pipeline._only(s, {partition}) for s in streams) if s is not None]
    inputs = pipeline.extract_inputs(config, source_name, streams, ctx)
    results = extract_streams(source.client(), streams, inputs["windows"], config.landing_dir, etags=inputs["etags"],
                              child_versions=inputs["child_versions"], run_id=ctx.run_id,
                              max_pages=config.sources[source_name].max_pages)
    return {r.stream: {"rows": r.rows, "pages": r.pages, "requests": r.requests, "batch": r.batch_dir.name}
            for r in results}


def extract_threads(config, source_name: str, ctx, partitions: list[str], stream_names: list[str] | None,
                    threads: int) -> dict[str, Any]:
    """Several partitions of a source in this one process, `threads` at a time: what the Airflow mapping does
    with one process per partition, without paying a Python start-up and imports per partition. Each partition
    is its own engine call (own client, own batches), exactly as in a mapped task."""
    from concurrent.futures import ThreadPoolExecutor

    from extractors.sources import build_source

    names = stream_names or [s.name for s in build_source(source_name, config.source_settings(
        source_name, with_secret=False)).streams]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        parts = list(pool.map(lambda p: extract_only(config, source_name, ctx, p, names), partitions))
    merged: dict[str, Any] = {}
    for part in parts:
        for stream, summary in part.items():
            into = merged.setdefault(stream, {"rows": 0, "pages": 0, "requests": 0, "batches": []})
            for key in ("rows", "pages", "requests"):
                into[key] += summary[key]
            into["batches"].append(summary["batch"])
    return merged


def load_floor(database: str, files_by_table: dict[str, list[str]]) -> dict[str, Any]:
    """DuckDB's own ingest of the same landing files: one `CREATE TABLE … AS SELECT * FROM read_parquet(…)`
    per stream into a new database file, committed and closed (what our load also does)."""
    import duckdb

    Path(database).unlink(missing_ok=True)
    Path(database + ".wal").unlink(missing_ok=True)
    rows = 0
    con = duckdb.connect(database)
    try:
        for table, files in sorted(files_by_table.items()):
            con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM read_parquet(?)', [files])
            rows += con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return {"rows": rows, "tables": len(files_by_table)}


def run(spec: dict[str, Any]) -> Any:
    stage = spec["stage"]
    if stage == "load_floor":
        return load_floor(spec["database"], spec["files_by_table"])
    from opskpi import pipeline

    config, ctx = _context(spec)
    if stage == "extract":
        if spec.get("partitions") is not None:
            return extract_threads(config, spec["source"], ctx, spec["partitions"], spec.get("streams"),
                                   spec.get("threads", 1))
        if spec.get("streams"):
            return extract_only(config, spec["source"], ctx, spec.get("partition"), spec["streams"])
        return pipeline.extract(config, spec["source"], ctx, partition=spec.get("partition"))
    if stage == "validate":
        return pipeline.validate(config, spec["source"], ctx)
    if stage == "load":
        return pipeline.load(config, ctx)
    if stage == "transform":
        if spec.get("full_refresh"):
            ctx = dataclasses.replace(ctx, full_refresh=True)
        return pipeline.transform(config, ctx, tests=spec.get("tests", True), docs=spec.get("docs", True),
                                  freshness=False)  # the build alone, as the benchmark's baseline measured it
    if stage == "publish":
        return pipeline.publish(config, ctx)
    raise SystemExit(f"unknown stage {stage!r}")


def _profile(spec: dict[str, Any]):
    """With `spec["profile"]`, a cProfile of the stage: `<profile>.prof` and the top functions in `<profile>.txt`."""
    target = spec.get("profile")
    if not target:
        return None
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()

    def stop():
        profiler.disable()
        profiler.dump_stats(target + ".prof")
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).strip_dirs()
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
        Path(target + ".txt").write_text(text.getvalue())

    return stop


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text())
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop_profile = _profile(spec)
    started = time.perf_counter()
    error = None
    try:
        result = run(spec)
    except Exception as exc:  # reported to the harness, which fails the benchmark naming the stage
        result, error = None, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    if stop_profile:
        stop_profile()
    if dataclasses.is_dataclass(result):
        result = dataclasses.asdict(result)
    Path(spec["out"]).write_text(json.dumps({"seconds": seconds, "result": result, "error": error}, default=str))
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
