"""The Markdown table of a benchmark result (bench/results/<date>.md)."""

from __future__ import annotations

from typing import Any


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
        rows = [[s["stream"], s["requests"], s["rows_landed"], s["records"], s["page_max"], s["minimum"],
                 (s["requests"] / s["minimum"]) if s["minimum"] else None] for s in run["streams"]]
        lines += ["Per stream (records: distinct records stored as new or changed by this run):", ""]
        lines += _table(["stream", "requests", "rows landed", "records", "largest page", "minimum", "ratio"], rows)
        lines += [f"Load: our merge into raw {summary['load_wall_s']:.2f} s wall ({summary['load_work_s']:.2f} s "
                  f"work) against DuckDB's own CTAS over the same files {summary['load_floor_wall_s']:.2f} s "
                  f"({summary['load_floor_work_s']:.2f} s): {_f(summary['load_vs_duckdb'])}× wall, "
                  f"{_f(summary['load_vs_duckdb_work'])}× work.", ""]
    peer = results.get("peer")
    if peer:
        lines += ["## Peer: dlt `rest_api` on the same GitHub pull requests and PagerDuty incidents", "",
                  f"Window {peer['window_start']} → {peer['window_end']}; both sides with up to "
                  f"{peer['ours']['concurrency']} requests in flight (our GitHub pool 2 + PagerDuty pool 1; dlt "
                  "`parallelized` resources with as many extract workers). Ours: extract + load (the batches are "
                  "marked validated; GE is timed in the main run). dlt: extract + normalize + load.", ""]
        rows = [["ours", peer["ours"]["wall_s"], f"extract {peer['ours']['extract_wall_s']:.2f} / load "
                 f"{peer['ours']['load_wall_s']:.2f}", peer["ours"]["requests"],
                 f"{peer['ours']['rows']['pulls']:,} / {peer['ours']['rows']['incidents']:,}",
                 peer["ours"]["peak_rss_mb"]]]
        for key in ("dlt_parquet", "dlt_default"):
            d = peer.get(key)
            if d:
                sec = d["seconds"]
                rows.append([f"dlt {d['dlt_version']} ({key.split('_')[1]})", d["wall_s"],
                             f"import {sec['import']:.2f} / extract {sec['extract']:.2f} / normalize "
                             f"{sec['normalize']:.2f} / load {sec['load']:.2f}", d["requests"],
                             f"{d['distinct']['pulls']:,} / {d['distinct']['incidents']:,} "
                             f"({d['rows']['incidents']:,} incident rows)", d["peak_rss_mb"]])
        lines += _table(["who", "wall s", "phases s", "requests", "pulls / incidents (distinct)", "peak RSS MB"],
                        rows)
    ref = results.get("rss_reference")
    if ref and results.get("full"):
        mine = {s["source"]: s for s in results["full"]["stages"] if s["stage"].startswith("extract:")}
        rows = [[src, v["rows"], v["peak_rss_mb"], mine[src]["rows"], mine[src]["peak_rss_mb"],
                 mine[src]["peak_rss_mb"] / v["peak_rss_mb"] if v["peak_rss_mb"] else None]
                for src, v in ref["extract"].items()]
        lines += [f"## Extract memory: `{meta['scale']}` against `{ref['scale']}`", ""]
        lines += _table(["source", f"{ref['scale']} rows", f"{ref['scale']} peak RSS MB", f"{meta['scale']} rows",
                         f"{meta['scale']} peak RSS MB", "ratio"], rows)
    notes = results.get("notes")
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)
