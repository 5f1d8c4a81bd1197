"""`python -m bench dbt --scale medium|large`: dbt alone, on a prepared warehouse.

The raw warehouse is built once per scale and emulator generator (cached under `data/bench/<scale>-<generator>/`):
the emulator at no latency, every source extracted (partitions on threads in one process per source), validated
and loaded by the normal stages; that is `raw-day1.duckdb`. The emulator then advances one day and the next day's
batches are extracted and validated (`landing-day2/`, not loaded). A measurement then, in a scratch copy:

1. **full**: `dbt build` of day 1 on the raw warehouse (no dbt relations yet);
2. the day-2 batches go through the normal load step (untimed), then **incremental**: `dbt build` of day 2;
3. a copy of that warehouse is rebuilt with `dbt build --full-refresh` (day 2) and every mart is compared with the
   incremental one row by row (`bench.mart_diff`): `rows_differing_from_full_refresh`;
4. **noop**: `dbt build` of day 3 with nothing loaded in between (a night with no new data).

The models measured are those of the commit (`git archive HEAD dbt_project`), recorded as `commit`.

Each build runs in its own process (`bench.stage`, the pipeline's own `transform`), so its peak RSS (wait4,
children included: the dbt process) is the whole transform's. The last line of stdout is one JSON object; it is
also written to `bench/results/<date>-dbt-<scale>.json`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.mart_diff import compare_warehouses
from bench.run import BENCH, DEFAULT_NOW, ROOT, SOURCES, Emulator, discover, loadavg, log, run_stage, write_config

CACHE_ROOT = ROOT / "data" / "bench"
# The generator's modules besides emulator/gen_*.py (every one of those is included: a new generator module, such as
# gen_links.py for the Jira keys in pull requests, changes the data without anyone having to remember this list).
GENERATOR_FILES = ("generator.py", "scale.py", "timeline.py", "ids.py", "clock.py")


def generator_version() -> str:
    """What the cached raw data depends on: the emulator's generator code (a change re-builds the cache)."""
    digest = hashlib.md5()
    emulator = ROOT / "emulator"
    names = sorted({*GENERATOR_FILES, *(path.name for path in emulator.glob("gen_*.py"))})
    for name in names:
        path = emulator / name
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def _dates(now: str) -> tuple[datetime, date]:
    start = datetime.fromisoformat(now.replace("Z", "+00:00")).astimezone(UTC)
    return start, start.date() - timedelta(days=1)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _extract_validate(config: Path, run_date: date, now: str, emu: Emulator, work: Path, label: str) -> None:
    from opskpi import pipeline
    from opskpi.config import load_config

    cfg = load_config(config)
    base = {"config": str(config), "run_date": run_date.isoformat(), "now": now, "run_id": f"bench-dbt-{label}"}
    for source in SOURCES:
        parts = pipeline.partitions(cfg, source)
        log(f"prepare {label}: extract {source} ({len(parts)} partitions on 4 threads)")
        run_stage(f"prepare-{label}-extract-{source}", [{**base, "stage": "extract", "source": source,
                                                          "partitions": parts, "threads": 4}], work)
        log(f"prepare {label}: validate {source}")
        run_stage(f"prepare-{label}-validate-{source}", [{**base, "stage": "validate", "source": source}], work)


def prepare(scale: str, seed: int, now: str, cache_root: Path = CACHE_ROOT) -> Path:
    """The cached raw warehouse of `scale` (built when missing); returns its directory."""
    cache = cache_root / f"{scale}-s{seed}-{generator_version()}"
    if (cache / "ready.json").exists():
        return cache
    shutil.rmtree(cache, ignore_errors=True)
    build = cache.with_name(cache.name + ".building")
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    started = time.perf_counter()
    emu = Emulator(scale, 0, seed, now, build / "emulator.log")
    try:
        repos, projects = discover(emu)
        log(f"prepare {scale}: {len(repos)} repositories, {len(projects)} Jira projects")
        config = write_config(build / "config.yml", build / "data", emu, repos, projects)
        start, day1 = _dates(now)
        _extract_validate(config, day1, now, emu, build / "proc", "day1")
        log(f"prepare {scale}: load day 1")
        run_stage("prepare-day1-load", [{"config": str(config), "run_date": day1.isoformat(), "now": now,
                                         "run_id": "bench-dbt-day1", "stage": "load"}], build / "proc")
        landing = build / "data" / "landing"
        shutil.rmtree(landing)  # loaded: the warehouse's meta tables remember every batch
        shutil.copy2(build / "data" / "warehouse.duckdb", build / "raw-day1.duckdb")
        emu.admin("advance", {"days": 1})
        _extract_validate(config, day1 + timedelta(days=1), _iso(start + timedelta(days=1)), emu, build / "proc",
                          "day2")
        shutil.move(landing, build / "landing-day2")
    finally:
        emu.stop()
    (build / "data" / "warehouse.duckdb").unlink()
    meta = {"scale": scale, "seed": seed, "now": now, "generator": generator_version(), "repos": len(repos),
            "projects": len(projects), "built_s": round(time.perf_counter() - started, 1),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds")}
    (build / "ready.json").write_text(json.dumps(meta, indent=2) + "\n")
    build.rename(cache)
    return cache


def slowest_models(run_results: Path, top: int = 10) -> list[dict[str, Any]]:
    results = json.loads(run_results.read_text()).get("results", []) if run_results.exists() else []
    nodes = sorted(results, key=lambda r: -r["execution_time"])[:top]
    return [{"node": r["unique_id"].split(".", 2)[-1], "kind": r["unique_id"].split(".")[0],
             "s": round(r["execution_time"], 2)} for r in nodes]


def _node_counts(run_results: Path) -> dict[str, int]:
    """How many nodes of each kind (model, test, seed) the build ran."""
    counts: dict[str, int] = {}
    for result in json.loads(run_results.read_text()).get("results", []) if run_results.exists() else []:
        kind = result["unique_id"].split(".")[0]
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _build(label: str, config: Path, run_date: date, now: str, work: Path, full_refresh: bool = False
           ) -> dict[str, Any]:
    from opskpi.config import load_config

    spec = {"config": str(config), "run_date": run_date.isoformat(), "now": now, "run_id": f"bench-dbt-{label}",
            "stage": "transform", "docs": False, "full_refresh": full_refresh}
    log(f"dbt build: {label} (run_date {run_date}{', --full-refresh' if full_refresh else ''})")
    stage = run_stage(f"dbt-{label}", [spec], work / "proc")
    process = stage.processes[0]
    target = load_config(config).data_dir / "dbt" / "target"
    shutil.copy2(target / "run_results.json", work / f"run_results-{label}.json")
    return {"s": process["work_s"], "wall_s": process["wall_s"], "peak_rss_mb": process["peak_rss_mb"],
            "cpu_s": process["cpu_s"], "dbt": process["result"].get("dbt"),
            "build": process["result"].get("build"), "build_reason": process["result"].get("build_reason"),
            "nodes": _node_counts(work / f"run_results-{label}.json"),
            "slowest": slowest_models(work / f"run_results-{label}.json")}


def measure(scale: str, seed: int, now: str, work: Path, cache: Path, transform: dict[str, Any] | None = None,
            compare: bool = True) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    raw = yaml_load(cache / "config.yml")
    raw["data_dir"] = str(work / "data")
    if transform:
        raw["transform"] = transform
    config = work / "config.yml"
    config.write_text(json.dumps(raw))  # JSON is YAML
    start, day1 = _dates(now)
    day2, now2 = day1 + timedelta(days=1), _iso(start + timedelta(days=1))
    day3, now3 = day1 + timedelta(days=2), _iso(start + timedelta(days=2))
    warehouse = work / "data" / "warehouse.duckdb"
    shutil.copy2(cache / "raw-day1.duckdb", warehouse)
    # The models of the commit (HEAD), not of the working tree: the figures belong to a commit, and every build of
    # one measurement compiles the same models even if the checkout is edited meanwhile.
    archive = subprocess.run(["git", "archive", "HEAD", "dbt_project"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(work)], input=archive.stdout, check=True)
    os.environ["OPSKPI_DBT_PROJECT"] = str(work / "dbt_project")
    result: dict[str, Any] = {"scale": scale, "loadavg_start": loadavg()}
    full = _build("full", config, day1, now, work)
    shutil.copytree(cache / "landing-day2", work / "data" / "landing")
    log("load day 2 (normal load step)")
    load = run_stage("dbt-load-day2", [{"config": str(config), "run_date": day2.isoformat(), "now": now2,
                                        "run_id": "bench-dbt-day2", "stage": "load"}], work / "proc")
    changed = sum(v["rows_changed"] for v in load.processes[0]["result"].values())
    incremental = _build("incremental", config, day2, now2, work)
    refresh: dict[str, Any] = {"s": None, "peak_rss_mb": 0.0}
    diff: dict[str, Any] = {"rows_differing": None, "rows_compared": 0, "differing_tables": {}}
    if compare:
        reference = work / "reference"
        (reference / "data").mkdir(parents=True)
        shutil.copy2(warehouse, reference / "data" / "warehouse.duckdb")
        ref_config = reference / "config.yml"
        ref_config.write_text(json.dumps({**raw, "data_dir": str(reference / "data")}))
        refresh = _build("full_refresh", ref_config, day2, now2, reference, full_refresh=True)
        log("compare every mart with the full refresh")
        diff = compare_warehouses(warehouse, reference / "data" / "warehouse.duckdb")
    noop = _build("noop", config, day3, now3, work)
    result.update({
        "full_s": full["s"], "incremental_s": incremental["s"], "noop_s": noop["s"],
        "full_refresh_day2_s": refresh["s"],
        "incremental_ratio": round(incremental["s"] / full["s"], 4),
        "noop_ratio": round(noop["s"] / full["s"], 4),
        # CPU seconds of the dbt process (threads and children included): less sensitive to a loaded machine
        "full_cpu_s": full["cpu_s"], "incremental_cpu_s": incremental["cpu_s"], "noop_cpu_s": noop["cpu_s"],
        "incremental_cpu_ratio": round(incremental["cpu_s"] / full["cpu_s"], 4),
        "noop_cpu_ratio": round(noop["cpu_s"] / full["cpu_s"], 4),
        "peak_rss_mb": max(b["peak_rss_mb"] for b in (full, incremental, noop, refresh)),
        "compared_with_full_refresh": compare,
        "rows_differing_from_full_refresh": diff["rows_differing"],
        "rows_compared": diff["rows_compared"], "differing_tables": diff["differing_tables"],
        "day2_rows_changed": changed,
        "builds": {"full": full, "incremental": incremental, "noop": noop, "full_refresh_day2": refresh},
        "slowest_full": full["slowest"], "slowest_incremental": incremental["slowest"],
        "slowest_noop": noop["slowest"],
        "loadavg_end": loadavg(), "cache": cache.name, "commit": _commit(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "transform_config": _transform_settings(config),
    })
    return result


def _transform_settings(config: Path) -> dict[str, Any]:
    from opskpi.config import load_config

    return load_config(config).transform.model_dump(mode="json")


def yaml_load(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text())


def _commit() -> str:
    """The commit whose dbt project was measured (`git archive HEAD`); `+dirty` when other tracked files (the
    pipeline, the bench) differ from it."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!dbt_project"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return done.stdout.strip() + ("+dirty" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench dbt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--now", default=DEFAULT_NOW, help="the emulator's start clock")
    parser.add_argument("--out", default=str(BENCH / "results"))
    parser.add_argument("--work-dir", default=None, help="scratch (default data/bench/run-<scale>, removed first)")
    parser.add_argument("--transform", type=json.loads, default=None, metavar="JSON",
                        help='the config\'s transform: section for this run, e.g. \'{"memory_limit": "19GB", '
                             '"threads": 4, "duckdb_threads": null}\' (default: the config defaults)')
    parser.add_argument("--skip-compare", action="store_true",
                        help="no --full-refresh build and row comparison (rows_differing_from_full_refresh: null)")
    parser.add_argument("--prepare-only", action="store_true", help="build the cached raw warehouse and stop")
    args = parser.parse_args(argv)
    cache = prepare(args.scale, args.seed, args.now)
    log(f"raw warehouse: {cache}")
    if args.prepare_only:
        return 0
    work = Path(args.work_dir) if args.work_dir else CACHE_ROOT / f"run-{args.scale}"
    result = measure(args.scale, args.seed, args.now, work, cache, args.transform, compare=not args.skip_compare)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{datetime.now(UTC).strftime('%Y-%m-%d')}-dbt-{args.scale}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {path}")
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
