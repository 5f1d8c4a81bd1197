"""The Markdown table of a benchmark result (bench/results/<date>.md)."""

from __future__ import annotations

from typing import Any

from bench import floors


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value == float("inf"):
            return "∞"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_f(c) for c in row) + " |" for row in rows]
    return lines + [""]


def targets_table(results: dict[str, Any]) -> list[str]:
    rows = [[t["name"], t["limit"], t["value"], t["verdict"], t["detail"]] for t in results.get("targets", [])]
    return _table(["target", "limit", "measured", "verdict", "how"], rows)


def render_markdown(results: dict[str, Any], targets_only: bool = False) -> str:
    meta = results["meta"]
    lines = [f"# opskpi benchmark, scale `{meta['scale']}`, {meta['latency_ms']:g} ms latency",
             "",
             f"{meta['started_at']} on {meta['host']} ({meta['cpus']} CPUs, Python {meta['python']}); "
             f"load average at start {meta['loadavg_start']}, at end {meta.get('loadavg_end')}; "
             f"{meta.get('total_s', 0):.0f} s in all. Emulator: `python -m {meta.get('emulator_command', '')}` "
             f"({meta.get('repos')} repositories, {meta.get('projects')} Jira projects, started in "
             f"{meta.get('emulator_startup_s')} s). Ratios compare figures measured in this same run.",
             "", "## Targets", ""]
    lines += targets_table(results)
    if targets_only:
        return "\n".join(lines)
    for key in ("full", "incremental"):
        run = results.get(key)
        if not run:
            continue
        summary = results[f"{key}_summary"]
        lines += [f"## {key.capitalize()} run ({run['run_date']}, emulator clock {run['now']})", "",
                  f"Load average before {run['loadavg_before']}, after {run['loadavg_after']}. "
                  f"{run['rows_landed']:,} records landed, {run['rows_changed']:,} rows new or changed in raw "
                  f"({run['raw_rows']:,} rows in raw after the run).", ""]
        rows = []
        for s in run["stages"]:
            rows.append([s["stage"], s["wall_s"], s["work_s"], s.get("requests"), s.get("minimum_requests"),
                         s.get("rows"), s.get("rows_per_s"), s["peak_rss_mb"], s["processes"], s["cpu_s"]])
        lines += _table(["stage", "wall s", "work s", "requests", "minimum", "rows", "rows/s", "peak RSS MB",
                         "processes", "CPU s"], rows)
        rows = []
        for source, v in summary["per_source"].items():
            rows.append([source, v["requests"], v["minimum"], v["requests_ratio"], v["pool_concurrency"],
                         v["concurrency_used"], v["request_floor_s"], v["extract_wall_s"], v["extract_vs_floor"]])
        rows.append(["all", summary["requests"], summary["minimum"], summary["requests_ratio"], "", "", "", "", ""])
        lines += ["Requests against the minimum and the request floor (minimum × latency ÷ pool concurrency):", ""]
        lines += _table(["API", "requests", "minimum", "ratio", "pool", "concurrency used", "request floor s",
                         "extract wall s", "wall / floor"], rows)
        rows = [[s["stream"], s["requests"], s.get("points") or "", s["rows_landed"], s["records"], s["page_max"],
                 s["minimum"], (s["requests"] / s["minimum"]) if s["minimum"] else None] for s in run["streams"]]
        lines += ["Per stream (records: distinct records stored as new or changed by this run; points: GitHub "
                  "GraphQL points, 5,000 an hour):", ""]
        lines += _table(["stream", "requests", "points", "rows landed", "records", "largest page", "minimum",
                         "ratio"], rows)
        transform = next((s for s in run["stages"] if s["stage"] == "transform"), None)
        profile = (transform or {}).get("dbt_profile") or {}
        if profile:
            lines += [f"dbt: {profile['nodes']} nodes, node seconds (4 threads) "
                      + ", ".join(f"{k} {v:.1f}" for k, v in profile["node_seconds"].items())
                      + "; slowest: " + ", ".join(f"`{n}` {t:.1f} s" for n, t in profile["slowest"]) + ".", ""]
        lines += [f"Load: our merge into raw {summary['load_wall_s']:.2f} s wall ({summary['load_work_s']:.2f} s "
                  f"work) against DuckDB's own CTAS over the same files {summary['load_floor_wall_s']:.2f} s "
                  f"({summary['load_floor_work_s']:.2f} s): {_f(summary['load_vs_duckdb'])}× wall, "
                  f"{_f(summary['load_vs_duckdb_work'])}× work.", ""]
    peer = results.get("peer")
    if peer:
        lines += ["## Peer: dlt `rest_api` on the same GitHub pull requests and PagerDuty incidents", "",
                  f"Window {peer['window_start']} → {peer['window_end']}; every side with up to "
                  f"{peer['ours']['concurrency']} requests in flight (our GitHub pool 2 + PagerDuty pool 1; dlt "
                  "`parallelized` resources with as many extract workers). Ours: extract + load (the batches are "
                  "marked validated; GE is timed in the main run), `threads` = one process per API with its "
                  "partitions on as many threads as its pool has slots, `mapped` = one process per partition as "
                  "the Airflow DAG maps them. dlt: extract + normalize + load. CPU: the client's processes; "
                  "emulator CPU: what serving that side cost the (single-process) emulator.", ""]
        rows = []
        for key in ("ours", "ours_mapped"):
            o = peer.get(key)
            if o:
                rows.append([f"ours ({o['mode']}, {o['processes']} processes)", o["wall_s"],
                             f"extract {o['extract_wall_s']:.2f} / load {o['load_wall_s']:.2f}", o["requests"],
                             f"{o['rows']['pulls']:,} / {o['rows']['incidents']:,}", o["cpu_s"], o["emulator_cpu_s"],
                             o["peak_rss_mb"]])
        for key in ("dlt_parquet", "dlt_default"):
            d = peer.get(key)
            if d:
                sec = d["seconds"]
                rows.append([f"dlt {d['dlt_version']} ({key.split('_')[1]})", d["wall_s"],
                             f"import {sec['import']:.2f} / extract {sec['extract']:.2f} / normalize "
                             f"{sec['normalize']:.2f} / load {sec['load']:.2f}", d["requests"],
                             f"{d['distinct']['pulls']:,} / {d['distinct']['incidents']:,} "
                             f"({d['rows']['incidents']:,} incident rows)", d.get("cpu_s"), d.get("emulator_cpu_s"),
                             d["peak_rss_mb"]])
        lines += _table(["who", "wall s", "phases s", "requests", "pulls / incidents (distinct)", "CPU s",
                         "emulator CPU s", "peak RSS MB"], rows)
    memory = results.get("extract_memory")
    if memory and len(memory["scales"]) == 2:
        small, big = memory["scales"]
        a, b = memory["extract"][small], memory["extract"][big]
        rows = [[f"{src} [{a[src]['partition'] or '*'}]", a[src]["rows"], a[src]["peak_rss_mb"], b[src]["rows"],
                 b[src]["peak_rss_mb"], floors.ratio(b[src]["peak_rss_mb"], a[src]["peak_rss_mb"])] for src in a]
        lines += [f"## Extract memory: `{big}` against `{small}`", "",
                  "One extract process per source (its first partition), peak RSS from wait4"
                  + (f"; {memory['note']}" if memory.get("note") else "") + ".", ""]
        lines += _table(["source", f"{small} rows", f"{small} peak RSS MB", f"{big} rows", f"{big} peak RSS MB",
                         "ratio"], rows)
    notes = results.get("notes")
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)
