"""A full GitHub extract against an emulator that enforces GitHub's real hourly quotas, on a fast clock.

`python -m bench.quota_run --scale large --clock-rate 600`: the emulator enforces 5,000 REST requests and 5,000
GraphQL points per emulated hour (`make bench` lifts them: it measures requests, not waits), its clock runs
`--clock-rate` emulated seconds per real second, and the extract (one process per repository, two at once, as the
`github_api` pool allows) waits through every reset on the server's clock. Prints and writes (`--out`) the
requests and points spent, the resets waited for, the records landed and the wall time.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import date
from pathlib import Path

from bench import floors
from bench.run import DEFAULT_NOW, Emulator, discover, loadavg, log, run_stage, write_config

RUN_DATE = date(2026, 11, 19)
GRAPHQL_STREAMS = {"pulls", "pull_commits", "deployments", "deployment_statuses"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="large")
    parser.add_argument("--clock-rate", type=float, default=600.0, help="emulated seconds per real second")
    parser.add_argument("--rest-per-hour", type=int, default=5000)
    parser.add_argument("--points-per-hour", type=int, default=5000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--work-dir", default="/tmp/opskpi-quota-run")
    parser.add_argument("--out", default=None, help="JSON file for the figures")
    args = parser.parse_args(argv)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    started, load_before = time.perf_counter(), loadavg()
    emu = Emulator(args.scale, args.latency_ms, 42, DEFAULT_NOW, work / "emulator.log",
                   extra_args=("--clock-rate", f"{args.clock_rate:g}", "--github-graphql-points",
                               str(args.points_per_hour)))
    try:
        repos, projects = discover(emu)
        emu.admin("settings", {"github_rate_limit": args.rest_per_hour})  # bench.run.Emulator lifts it
        config = write_config(work / "config.yml", work / "data", emu, repos, projects)
        import yaml

        raw = yaml.safe_load(config.read_text())
        raw["sources"]["github"]["server_clock_rate"] = args.clock_rate
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        base = {"config": str(config), "run_date": RUN_DATE.isoformat(), "now": DEFAULT_NOW, "run_id": "quota-full"}
        log(f"quota run: {len(repos)} repositories, {args.rest_per_hour} REST requests and {args.points_per_hour} "
            f"GraphQL points per emulated hour, clock x{args.clock_rate:g}")
        emu.reset()
        stage = run_stage("extract:github", [{**base, "stage": "extract", "source": "github", "partition": r,
                                              "label": r} for r in repos], work / "stage",
                          floors.POOL_CONCURRENCY["github"])
        served = emu.requests().get("github", 0)
    finally:
        emu.stop()
    from extractors.landing import read_manifest

    requests = points = rows = graphql = 0
    for proc in stage.processes:
        for key, summary in proc["result"].items():
            requests += summary["requests"]
            if key.partition("__")[2] in GRAPHQL_STREAMS:
                graphql += summary["requests"]
            rows += summary["rows"]
            source, _, name = key.partition("__")
            points += read_manifest(work / "data" / "landing" / source / name / summary["batch"]).get("points", 0)
    waits = {"core": 0, "graphql": 0}
    for log_file in (work / "stage").glob("*.log"):
        for match in re.finditer(r": (core|graphql) quota spent", log_file.read_text()):
            waits[match.group(1)] += 1
    figures = {"scale": args.scale, "repositories": len(repos), "clock_rate": args.clock_rate,
               "rest_per_hour": args.rest_per_hour, "points_per_hour": args.points_per_hour,
               "requests_served": served, "requests_counted": requests, "graphql_requests": graphql,
               "rest_requests": requests - graphql,
               "points": points, "records_landed": rows, "quota_waits": waits, "wall_s": round(stage.wall_s, 1),
               "cpu_s": round(sum(p["cpu_s"] for p in stage.processes), 1), "loadavg_before": load_before,
               "loadavg_after": loadavg(), "total_s": round(time.perf_counter() - started, 1)}
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
