"""`python -m bench celery`: the daily DAG's extract on one Celery extract worker against two (issue #23's target:
extract wall with 2 workers ≤ 0.6 × with 1, at `medium` with 20 ms latency).

One emulator (bench.run.Emulator: scale, latency, GitHub's quota lifted, its world built before anything is timed),
one redis-server and one Airflow deployment with CeleryExecutor: the AirflowStack of tests/e2e with the Celery
pieces of tests/scale_out/celery_stack.py, the deployment the scale-out test runs. Per scenario the DAG runs once
on 1 extract worker and once on 2 (same concurrency each), each run a full extract into a data directory of its
own. No warehouse worker is started: `load` waits on the `warehouse` queue, so a run is over once every source is
extracted and validated; it is then marked failed, so the next may start (the DAG allows one active run).

Extract wall: the first `<source>.extract` task's start to the last one's end, from Airflow's task instances. Both
runs of a scenario are in the same process, deployment and emulator, and must have been served the same requests.

The emulator enforces the vendors' per-minute limits on the real clock (`--realtime-limits`, emulator/realtime.py:
PagerDuty 960 requests a minute per key, GitHub 2,000 GraphQL points and 900 points per REST endpoint a minute per
token): they, not the network, bound how fast one credential can read, whatever the number of workers. The requests
they refused are reported apart (`--no-realtime-limits` measures without them).

Scenarios (`--scenario`, default both):
- `shipped`: the pools `opskpi setup` creates (jira_api 2, pagerduty_api 1, github_api 2) and Airflow's default
  worker concurrency (16): what adding a worker gives the project as it ships.
- `slots`: the workers' slots are what binds: `--concurrency` slots per worker (default 2) and API pools wide
  enough (github_api 8) that only the workers limit how many extracts run at once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

from bench import floors
from bench.run import BENCH, DEFAULT_NOW, TOKENS, Emulator, busy_share, cpu_times, discover, loadavg, log, write_config
from opskpi.cli import POOLS
from opskpi.pipeline import SOURCES

DAG_ID = "ops_kpi_daily"
QUEUES = {"extract": "extract", "warehouse": "warehouse"}
SCENARIOS: dict[str, dict[str, Any]] = {
    "shipped": {"concurrency": 16, "pools": {name: slots for name, (slots, _) in POOLS.items()}},
    "slots": {"concurrency": None, "pools": {**{name: slots for name, (slots, _) in POOLS.items()},
                                             "github_api": 8}},
}
TERMINAL = {"success", "failed", "upstream_failed", "skipped", "removed"}


def _seconds(ti: dict[str, Any], key: str) -> float:
    return datetime.fromisoformat(ti[key].replace("Z", "+00:00")).timestamp()


def spans(instances: list[dict[str, Any]]) -> dict[str, Any]:
    """Extract wall (first extract start → last extract end), the whole extract phase (first `partitions` start →
    last `validate` end), and how the extract tasks spread over the workers."""
    ran = [t for t in instances if t["state"] == "success"]  # a source left out of the run skipped its tasks
    extracts = [t for t in ran if t["task_id"].endswith(".extract")]
    phase = [t for t in ran if t["task_id"] not in ("load", "dbt_build", "publish", "report", "done")]
    by_worker: dict[str, int] = {}
    for t in extracts:
        by_worker[t["hostname"]] = by_worker.get(t["hostname"], 0) + 1
    durations = sorted((round(_seconds(t, "end_date") - _seconds(t, "start_date"), 2),
                        t["task_id"] + f"[{t['map_index']}]") for t in extracts)
    return {
        "extract_wall_s": round(max(_seconds(t, "end_date") for t in extracts)
                                - min(_seconds(t, "start_date") for t in extracts), 2),
        "phase_wall_s": round(max(_seconds(t, "end_date") for t in phase)
                              - min(_seconds(t, "start_date") for t in phase), 2),
        "extract_tasks": len(extracts), "extract_task_s_sum": round(sum(d for d, _ in durations), 2),
        "longest_extracts": durations[-3:][::-1], "extract_tasks_by_worker": by_worker,
    }


def run_once(stack, emu: Emulator, config: Path, run_date: str, sources: list[str],
             timeout_s: float = 1800) -> dict[str, Any]:
    """One DAG run (of `sources`) up to its validate tasks; its task instances' spans, requests and load averages."""
    emu.reset()
    before, cpu_before = loadavg(), cpu_times()
    run_id = stack.trigger(DAG_ID, {"config": str(config), "run_date": run_date, "sources": sources})
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            reply = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
            instances = reply.json()["task_instances"]
        except requests.RequestException:  # a busy API server answering late is not the run's failure
            instances = []
        validates = [t for t in instances if t["task_id"].endswith(".validate")]
        if len(validates) == 3 and all(t["state"] in TERMINAL for t in validates):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id}: extract and validate not done in {timeout_s}s: "
                               f"{stack.task_states(DAG_ID, run_id)}")
        stack._check_alive()
        time.sleep(2)
    failed = {t["task_id"]: t["state"] for t in instances if t["task_id"] not in ("load", "dbt_build", "publish",
                                                                                  "report", "done")
              and t["state"] != "success"
              and not (t["state"] == "skipped" and t["task_id"].split(".")[0] not in sources)}
    if failed:
        raise SystemExit(f"run {run_id}: tasks did not succeed: {failed}\n{stack.failed_task_logs(DAG_ID, run_id)}")
    every = emu.requests()
    served = emu.requests(refused=False)
    result = {"run_id": run_id, **spans(instances), "requests": served,
              "refused_per_minute_limit": {api: every[api] - served.get(api, 0) for api in every},
              "loadavg_before": before, "loadavg_after": loadavg(),
              # every core's busy share from the trigger to the last validate: near 1.0, the host's CPU binds
              "cpu_busy_share": busy_share(cpu_before, cpu_times())}
    reply = stack.api("PATCH", f"/dags/{DAG_ID}/dagRuns/{run_id}", json={"state": "failed"})
    assert reply.status_code == 200, reply.text
    return result


def scenario(stack, emu: Emulator, name: str, concurrency: int, pools: dict[str, int], make_config,
             run_date: str, sources: list[str]) -> dict[str, Any]:
    from tests.scale_out.celery_stack import start_worker

    for pool, slots in pools.items():
        done = stack.cli("pools", "set", pool, str(slots), POOLS[pool][1])
        assert done.returncode == 0, done.stderr[-2000:]
    out: dict[str, Any] = {"concurrency": concurrency, "pools": pools, "runs": {}}
    workers = []
    try:
        for count in (1, 2):
            while len(workers) < count:
                worker = f"{name}-extract-{len(workers) + 1}"
                start_worker(stack, worker, [QUEUES["extract"]], concurrency)
                workers.append(worker)
            log(f"{name}: {count} worker(s) x {concurrency} slots, pools {pools}")
            out["runs"][str(count)] = run = run_once(stack, emu, make_config(f"{name}-{count}"), run_date, sources)
            log(f"{name}: {count} worker(s): extract wall {run['extract_wall_s']:.1f} s "
                f"(phase {run['phase_wall_s']:.1f} s), tasks by worker {run['extract_tasks_by_worker']}, "
                f"load {run['loadavg_before']} -> {run['loadavg_after']}")
    finally:
        for worker in workers:
            stack.stop_process(f"worker-{worker}")
    one, two = out["runs"]["1"], out["runs"].get("2")
    if two:
        if one["requests"] != two["requests"]:
            raise SystemExit(f"{name}: the runs sent different requests: {one['requests']} vs {two['requests']}")
        out["ratio"] = round(two["extract_wall_s"] / one["extract_wall_s"], 3)
        out["phase_ratio"] = round(two["phase_wall_s"] / one["phase_wall_s"], 3)
    return out


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from tests.e2e.airflow_stack import AirflowStack
    from tests.scale_out.celery_stack import RedisServer, celery_env

    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    meta: dict[str, Any] = {"scale": args.scale, "latency_ms": args.latency_ms, "seed": args.seed, "now": args.now,
                            "sources": args.source,
                            "started_at": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
                            "cpus": os.cpu_count(), "python": platform.python_version(), "loadavg_start": loadavg()}
    results: dict[str, Any] = {"meta": meta, "scenarios": {}}
    meta["realtime_limits"] = args.realtime_limits
    emu = Emulator(args.scale, args.latency_ms, args.seed, args.now, work / "emulator.log",
                   extra_args=("--realtime-limits",) if args.realtime_limits else ())
    redis = RedisServer(work / "redis")
    stack = None
    try:
        meta["emulator_command"] = " ".join(emu.command[2:])
        repos, projects = discover(emu)
        meta.update(repos=len(repos), projects=len(projects))

        def make_config(label: str) -> Path:
            path = write_config(work / label / "config.yml", work / label / "data", emu, repos, projects)
            raw = yaml.safe_load(path.read_text())
            raw["queues"] = QUEUES
            path.write_text(yaml.safe_dump(raw, sort_keys=False))
            return path

        redis.wait_ready()
        home = work / "airflow"
        stack = AirflowStack(home, {**TOKENS, **celery_env(home, redis.url),
                                    "OPSKPI_CONFIG": str(make_config("queues")),
                                    # the workers, not the scheduler, decide how many tasks run at once
                                    "AIRFLOW__CORE__PARALLELISM": "64",
                                    "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64"})
        stack.start()
        stack.wait_for_dag(DAG_ID)
        run_date = (datetime.fromisoformat(args.now.replace("Z", "+00:00")).date() - timedelta(days=1)).isoformat()
        for name in args.scenario:
            spec = SCENARIOS[name]
            results["scenarios"][name] = scenario(stack, emu, name, spec["concurrency"] or args.concurrency,
                                                  spec["pools"], make_config, run_date, args.source)
    finally:
        if stack is not None:
            stack.stop()
        redis.stop()
        emu.stop()
    target = floors.TARGETS["celery_workers"]
    results["targets"] = [{"target": "celery_workers", "scenario": name, "name": target.name,
                           "limit": target.describe(), "value": s.get("ratio"), "verdict": target.judge(s.get("ratio"))}
                          for name, s in results["scenarios"].items()]
    meta.update(finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
                total_s=round(time.perf_counter() - started, 1), loadavg_end=loadavg())
    return results


def render_markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    limits = "on" if meta.get("realtime_limits") else "off (`--no-realtime-limits`)"
    lines = [f"# Extract on 1 vs 2 Celery workers, scale `{meta['scale']}`, {meta['latency_ms']:g} ms latency", "",
             f"Sources extracted: {', '.join(meta.get('sources') or SOURCES)}. The vendors' per-minute limits "
             f"(emulator/realtime.py): {limits}.", "",
             f"{meta['started_at']} on {meta['host']} ({meta['cpus']} CPUs, Python {meta['python']}); load average "
             f"at start {meta['loadavg_start']}, at end {meta['loadavg_end']}; {meta['total_s']:.0f} s in all. "
             f"Emulator: `python -m {meta['emulator_command']}` ({meta['repos']} repositories, {meta['projects']} "
             "Jira projects). Ratios compare runs of this same process, deployment and emulator.", "",
             "| scenario | slots per worker | pools | workers | extract wall s | extract + validate s | extract tasks "
             "by worker | sum of extract task s | longest extract tasks (s) | refused by a per-minute limit | "
             "CPU busy (all cores) | load avg before → after |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in results["scenarios"].items():
        pools = ", ".join(f"{k.removesuffix('_api')} {v}" for k, v in s["pools"].items() if k != "duckdb_writer")
        for count, run in s["runs"].items():
            longest = ", ".join(f"{task} {d:.1f}" for d, task in run["longest_extracts"])
            lines.append(f"| {name} | {s['concurrency']} | {pools} | {count} | {run['extract_wall_s']:.1f} | "
                         f"{run['phase_wall_s']:.1f} | {run['extract_tasks_by_worker']} | "
                         f"{run['extract_task_s_sum']:.1f} | {longest} | "
                         f"{run.get('refused_per_minute_limit') or '–'} | "
                         f"{'–' if run.get('cpu_busy_share') is None else format(run['cpu_busy_share'], '.0%')} | "
                         f"{run['loadavg_before']} → "
                         f"{run['loadavg_after']} |")
    lines += ["", "| target | scenario | limit | measured | verdict |", "|---|---|---|---|---|"]
    for t in results["targets"]:
        lines.append(f"| {t['name']} | {t['scenario']} | {t['limit']} | {t['value']} | {t['verdict']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench celery", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="medium", help="emulator scale (default: medium)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="latency the emulator adds per request")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--now", default=DEFAULT_NOW, help="the emulator's start clock")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                        help="shipped and/or slots (repeatable; default both)")
    parser.add_argument("--concurrency", type=int, default=2, help="slots per worker in the `slots` scenario")
    parser.add_argument("--source", action="append", choices=SOURCES,
                        help="extract only these sources (repeatable; default all): the DAG run's `sources`")
    parser.add_argument("--no-realtime-limits", dest="realtime_limits", action="store_false",
                        help="let the emulator serve faster than the vendors' per-minute limits (PagerDuty 960 "
                             "requests, GitHub 2,000 GraphQL points a minute: emulator/realtime.py), which are on by "
                             "default: without them a run looks faster than any real account allows")
    parser.add_argument("--out", default=str(BENCH / "results"), help="directory of <date>-celery.json and .md")
    parser.add_argument("--work-dir", default=str(BENCH / ".work-celery"), help="scratch data (removed at the start)")
    args = parser.parse_args(argv)
    args.scenario = args.scenario or ["shipped", "slots"]
    args.source = args.source or list(SOURCES)
    results = bench(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = datetime.now(UTC).strftime("%Y-%m-%d") + "-celery" + ("" if args.scale == "medium" else f"-{args.scale}")
    if set(args.source) != set(SOURCES):
        stem += "-" + "-".join(sorted(args.source))
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / f"{stem}.md").write_text(render_markdown(results))
    log(f"wrote {out / stem}.json and .md in {results['meta']['total_s']:.0f} s")
    print(render_markdown(results))
    return 0
