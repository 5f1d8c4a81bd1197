"""`make bench`: the pipeline against the emulator at a chosen scale and latency, with its floors and a peer.

One run, one machine, one emulator:

1. full run (the first, `history_days` back): extract per source (one process per partition, as many at
   once as that API's Airflow pool allows), validate, load, dbt build, publish;
2. the emulator advances one day; the incremental run, same stages;
3. baselines in the same run: the request floor (minimum requests × latency ÷ pool concurrency), DuckDB's
   own `CREATE TABLE AS SELECT * FROM read_parquet(…)` over the same landing files (load floor), dbt's full
   against its incremental build, and dlt's `rest_api` source (bench/.venv-dlt) on the same GitHub pull
   requests and PagerDuty incidents, against our extract + load of the same streams;
4. extract memory at a smaller scale (a second emulator) for the flat-memory ratio.

Writes bench/results/<date>.json and .md (`--out`). Every stage runs in its own process, so peak RSS is per
process (wait4), and times are wall clock around that process; `seconds` inside is the stage's work.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench import floors
from bench.report import render_markdown
from emulator.stats import REFUSED
from opskpi import processes

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DEFAULT_NOW = "2026-11-20T06:00:00Z"
SOURCES = ("jira", "pagerduty", "github")
TOKENS = {"OPSKPI_JIRA_TOKEN": "jira-demo-token", "OPSKPI_PAGERDUTY_TOKEN": "pd-demo-token",
          "OPSKPI_GITHUB_TOKEN": "gh-demo-token"}
# GitHub's quota during a benchmark (its 5,000 an emulated hour would stop a run at medium scale).
GITHUB_QUOTA = 100_000_000
# The harness's own requests to the emulator (admin, discovery), untimed: at `large` on a loaded machine the first
# answers (the world's first use of 160 repositories) took over a minute, and a bench that dies there measures nothing.
ADMIN_TIMEOUT_S = 600


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of the whole machine since boot (/proc/stat), None where there is no /proc: two
    readings give how busy every core was in between (`busy_share`), which tells a CPU-bound stage from one that
    waits on the network."""
    try:
        fields = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_share(before: tuple[float, float] | None, after: tuple[float, float] | None) -> float | None:
    """The share of all cores' time spent busy between two `cpu_times()` readings (1.0: every core all the time)."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 3)


# --- the emulator ------------------------------------------------------------------------------------------

def emulator_options() -> dict[str, Any]:
    """What this checkout's emulator offers: its scales and whether it adds latency."""
    text = subprocess.run([sys.executable, "-m", "emulator", "--help"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    scales: list[str] = []
    if "--scale {" in text:
        scales = text.split("--scale {", 1)[1].split("}", 1)[0].split(",")
    return {"scales": scales, "latency": "--latency-ms" in text}


class Emulator:
    def __init__(self, scale: str, latency_ms: float, seed: int, now: str, log_path: Path,
                 extra_args: tuple[str, ...] = ()):
        options = emulator_options()
        if options["scales"] and scale not in options["scales"]:
            raise SystemExit(f"this emulator offers --scale {{{','.join(options['scales'])}}}, not {scale!r}: "
                             f"run `make bench SCALE={options['scales'][0]}` until {scale} lands")
        command = [sys.executable, "-m", "emulator", "--port", "0", "--seed", str(seed), "--now", now,
                   "--scale", scale, "--profile", "stress", *extra_args]
        self.latency_ms = 0.0
        if latency_ms:
            if options["latency"]:
                command += ["--latency-ms", f"{latency_ms:g}"]
                self.latency_ms = latency_ms
        self.command = command
        self.scale = scale
        self._log = open(log_path, "w")  # noqa: SIM115 - open for the emulator's lifetime
        started = time.monotonic()
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self.process.stdout.readline().strip()
        if not line.startswith("emulator listening on "):
            self.stop()
            raise SystemExit(f"the emulator did not start ({' '.join(command)}): {line!r}; see {log_path}")
        self.startup_s = time.monotonic() - started
        self.url = line.removeprefix("emulator listening on ")
        try:
            self.settings = self._settings(latency_ms, options["latency"])
            self.warmed = self._warm()
        except BaseException:  # nobody holds this object yet to stop the process (e.g. warming timed out)
            self.stop()
            raise
        if latency_ms and not self.latency_ms:
            log(f"warning: this emulator adds no latency: running without the {latency_ms:g} ms asked")

    def _settings(self, latency_ms: float, latency_flag: bool) -> dict[str, Any] | None:
        """GitHub's hourly quota counts on the emulated clock, which a benchmark does not move: lift it so the
        run measures our requests, not waits for a reset (the quota a run costs is in the request counts).
        Latency goes through the settings when the CLI has no flag for it."""
        changes: dict[str, Any] = {"github_rate_limit": GITHUB_QUOTA}
        if latency_ms and not latency_flag:
            changes["latency_ms"] = latency_ms
        try:
            current = self.admin("settings", changes)
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
            log("warning: this emulator has no /__emulator/settings: GitHub's hourly quota stays as it is")
            return None
        if changes.get("latency_ms"):
            self.latency_ms = float(current.get("latency_ms") or 0.0)
        return current

    def _warm(self) -> dict[str, Any]:
        """The emulator's world built before anything is timed (emulator/admin.py `warm`): its generation is the
        emulator's work, not either side's, and would land in whichever stage asks first."""
        try:
            return self.admin("warm", {})
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
            return {}

    def admin(self, path: str, payload: dict | None = None) -> dict:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{self.url}/__emulator/{path}", data=data,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=ADMIN_TIMEOUT_S) as response:
            return json.loads(response.read())

    def requests(self, refused: bool = True) -> dict[str, int]:
        """Requests per API since the last reset (what the server saw, retries included); `refused=False` leaves out
        those a per-minute limit refused (`--realtime-limits`, counted as `REFUSED <route>`)."""
        return {api: sum(n for route, n in routes.items() if refused or not route.startswith(REFUSED + " "))
                for api, routes in self.admin("stats").items()}

    def cpu_s(self) -> float:
        """CPU seconds the emulator process has used (it serves every request of both sides)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset(self) -> None:
        self.admin("reset-stats", {})

    def get(self, path: str, headers: dict[str, str]) -> tuple[Any, Any]:
        request = urllib.request.Request(path if path.startswith("http") else self.url + path, headers=headers)
        with urllib.request.urlopen(request, timeout=ADMIN_TIMEOUT_S) as response:
            return json.loads(response.read()), response.headers

    def stop(self) -> None:
        processes.stop(self.process)
        self._log.close()


def discover(emu: Emulator) -> tuple[list[str], list[str]]:
    """The repositories and Jira projects the emulator holds at this scale (not counted: stats are reset)."""
    gh = {"Authorization": f"Bearer {TOKENS['OPSKPI_GITHUB_TOKEN']}", "Accept": "application/vnd.github+json"}
    repos, url = [], "/github/orgs/acme/repos?per_page=100"
    while url:
        body, headers = emu.get(url, gh)
        repos += [r["full_name"] for r in body]
        url = next((part.split(";")[0].strip(" <>") for part in (headers.get("Link") or "").split(",")
                    if 'rel="next"' in part), None)
    basic = b64encode(f"demo@example.com:{TOKENS['OPSKPI_JIRA_TOKEN']}".encode()).decode()
    body, _ = emu.get("/jira/rest/api/3/project", {"Authorization": f"Basic {basic}", "Accept": "application/json"})
    projects = [p["key"] for p in (body if isinstance(body, list) else body.get("values", []))]
    emu.reset()
    return sorted(repos), sorted(projects)


def write_config(path: Path, data_dir: Path, emu: Emulator, repos: list[str], projects: list[str]) -> Path:
    """config/demo.yml pointed at this emulator, these repositories and projects, and its own data dir."""
    raw = yaml.safe_load((ROOT / "config" / "demo.yml").read_text())
    raw["data_dir"] = str(data_dir)
    raw["sources"]["jira"].update(base_url=f"{emu.url}/jira", projects=projects)
    raw["sources"]["pagerduty"].update(base_url=f"{emu.url}/pagerduty")
    raw["sources"]["github"].update(base_url=f"{emu.url}/github", repos=repos)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


# --- stages as child processes -------------------------------------------------------------------------------

@dataclass
class Proc:
    spec: dict[str, Any]
    process: subprocess.Popen
    started: float
    log: Any
    ended: float = 0.0
    rusage: Any = None
    status: int = 0


@dataclass
class StageRun:
    """Processes run as one stage: wall from the first start to the last end; RSS per process."""

    name: str
    wall_s: float = 0.0
    work_s: float = 0.0
    processes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def peak_rss_mb(self) -> float:
        return max((p["peak_rss_mb"] for p in self.processes), default=0.0)


def _env() -> dict[str, str]:
    env = {**os.environ, **TOKENS, "PYTHONPATH": str(ROOT)}
    env.pop("OPSKPI_EMULATOR_URL", None)
    return env


def run_stage(name: str, specs: list[dict[str, Any]], work: Path, concurrency: int = 1,
              python: str | None = None, module: str | None = "bench.stage") -> StageRun:
    """Run one process per spec, at most `concurrency` at once; fail naming the stage if one fails."""
    work.mkdir(parents=True, exist_ok=True)
    pending = list(enumerate(specs))
    running: dict[int, Proc] = {}
    done: list[Proc] = []
    started = time.perf_counter()
    while pending or running:
        while pending and len(running) < concurrency:
            i, spec = pending.pop(0)
            tag = f"{name.replace(':', '-').replace('/', '-')}-{i}"
            spec = {**spec, "out": str(work / f"{tag}.out.json")}
            spec_path = work / f"{tag}.spec.json"
            spec_path.write_text(json.dumps(spec))
            out = open(work / f"{tag}.log", "w")  # noqa: SIM115 - closed when the process is reaped
            args = [python or sys.executable] + (["-m", module] if module else []) + [str(spec_path)]
            if not module:
                args = [python or sys.executable, spec["script"], str(spec_path)]
            process = subprocess.Popen(args, cwd=ROOT, env=_env(), stdout=out, stderr=subprocess.STDOUT)
            running[process.pid] = Proc(spec, process, time.perf_counter(), out)
        for pid, proc in list(running.items()):
            got, status, rusage = os.wait4(pid, os.WNOHANG)
            if got == 0:
                continue
            proc.ended, proc.rusage = time.perf_counter(), rusage
            proc.status = os.waitstatus_to_exitcode(status)
            proc.process.returncode = proc.status
            proc.log.close()
            done.append(running.pop(pid))
        if running:
            time.sleep(0.01)
    stage = StageRun(name, wall_s=time.perf_counter() - started)
    for proc in done:
        out_path = Path(proc.spec["out"])
        payload = json.loads(out_path.read_text()) if out_path.exists() else {}
        if proc.status != 0 or payload.get("error"):
            log_path = Path(proc.log.name)
            tail = log_path.read_text()[-3000:] if log_path.exists() else ""
            raise SystemExit(f"stage {name} failed (exit {proc.status}): {payload.get('error')}\n{tail}")
        stage.processes.append({
            "label": proc.spec.get("label", ""),
            "wall_s": round(proc.ended - proc.started, 3),
            "work_s": round(_work_seconds(payload.get("seconds")), 3),
            # ru_maxrss is in KiB on Linux: the largest resident set of the process or any child it waited for.
            "peak_rss_mb": round(proc.rusage.ru_maxrss / 1024, 1),
            "cpu_s": round(proc.rusage.ru_utime + proc.rusage.ru_stime, 2),
            "result": payload.get("result", payload),
        })
    stage.work_s = max((p["work_s"] for p in stage.processes), default=0.0)
    return stage


def _work_seconds(seconds: Any) -> float:
    """bench.stage reports one figure; the dlt script reports its phases and their sum as `work`."""
    if isinstance(seconds, dict):
        return float(seconds.get("work", 0.0))
    return float(seconds or 0.0)


# --- one pipeline run ----------------------------------------------------------------------------------------

def _stage_row(stage: StageRun, requests: int | None = None, minimum: int | None = None, rows: int | None = None,
               **extra: Any) -> dict[str, Any]:
    row = {"stage": stage.name, "wall_s": round(stage.wall_s, 3), "work_s": round(stage.work_s, 3),
           "peak_rss_mb": stage.peak_rss_mb, "processes": len(stage.processes),
           "cpu_s": round(sum(p["cpu_s"] for p in stage.processes), 2)}
    if requests is not None:
        row["requests"] = requests
    if minimum is not None:
        row["minimum_requests"] = minimum
        row["requests_ratio"] = floors.ratio(requests, minimum)
    if rows is not None:
        row["rows"] = rows
        row["rows_per_s"] = round(rows / stage.wall_s, 1) if stage.wall_s else None
    row.update(extra)
    return row


def run_pipeline(label: str, config: Path, run_date: date, now: str, emu: Emulator, work: Path,
                 sources: tuple[str, ...] = SOURCES, profile: set[str] | None = None,
                 dbt: bool = True) -> dict[str, Any]:
    """One daily run through every stage, each timed in its own processes."""
    from bench.minimum import run_minimums
    from opskpi import pipeline
    from opskpi.config import load_config

    cfg = load_config(config)
    base = {"config": str(config), "run_date": run_date.isoformat(), "now": now, "run_id": f"bench-{label}"}
    stages: list[dict[str, Any]] = []
    batches: dict[str, list[Path]] = {}
    load_before = loadavg()
    profile = profile or set()

    def spec(stage: str, **kw: Any) -> dict[str, Any]:
        s = {**base, "stage": stage, **kw}
        if f"{label}:{stage}:{kw.get('source', '')}" in profile or f"{label}:{stage}" in profile:
            s["profile"] = str(work / f"profile-{label}-{stage}-{kw.get('source', 'all')}")
        return s

    for source in sources:
        parts = pipeline.extract_tasks(cfg, source)  # as the DAG maps its extract tasks
        concurrency = floors.POOL_CONCURRENCY[source]
        emu.reset()
        log(f"{label}: extract {source} ({len(parts)} tasks, {concurrency} at once)")
        stage = run_stage(f"extract:{source}", [spec("extract", source=source, partition=p,
                                                      label=pipeline.partition_label(source, p)) for p in parts],
                          work, concurrency)
        served = emu.requests().get(source, 0)
        rows = 0
        for proc in stage.processes:
            for stream_key, summary in proc["result"].items():
                rows += summary["rows"]
                src, _, name = stream_key.partition("__")
                batches.setdefault(stream_key, []).append(cfg.landing_dir / src / name / summary["batch"])
        stages.append(_stage_row(stage, requests=served, rows=rows, source=source,
                                 concurrency=min(concurrency, len(parts)), partitions=len(parts)))
    rows_landed = sum(s.get("rows", 0) for s in stages)
    for source in sources:
        log(f"{label}: validate {source}")
        stage = run_stage(f"validate:{source}", [spec("validate", source=source)], work)
        rows = sum(v.get("rows", 0) for v in stage.processes[0]["result"].values())
        stages.append(_stage_row(stage, rows=rows, source=source))
    log(f"{label}: load")
    stage = run_stage("load", [spec("load")], work)
    loaded = stage.processes[0]["result"]
    changed = sum(v["rows_changed"] for v in loaded.values())
    stages.append(_stage_row(stage, rows=sum(v["rows_landed"] for v in loaded.values()), rows_changed=changed))
    files = {}
    for key, dirs in batches.items():
        from extractors.landing import read_manifest

        files[key] = [str(d / f) for d in dirs for f in read_manifest(d)["files"]]
    log(f"{label}: load floor (DuckDB CREATE TABLE AS SELECT * FROM read_parquet)")
    floor = run_stage("load_floor", [{"stage": "load_floor", "database": str(work / f"floor-{label}.duckdb"),
                                      "files_by_table": files}], work)
    Path(work / f"floor-{label}.duckdb").unlink(missing_ok=True)
    stages.append(_stage_row(floor, rows=floor.processes[0]["result"]["rows"]))
    if dbt:
        log(f"{label}: dbt build")
        stage = run_stage("transform", [spec("transform")], work)
        stages.append(_stage_row(stage, dbt=stage.processes[0]["result"].get("dbt"),
                                 dbt_profile=dbt_profile(cfg.data_dir / "dbt" / "target" / "run_results.json")))
        log(f"{label}: publish")
        stage = run_stage("publish", [spec("publish")], work)
        stages.append(_stage_row(stage))
    declared = [s for s in pipeline.declared_streams() if s.source in sources]
    minimums = run_minimums(cfg.warehouse_path, declared, batches)
    return {"label": label, "run_date": run_date.isoformat(), "now": now, "loadavg_before": load_before,
            "loadavg_after": loadavg(), "rows_landed": rows_landed, "rows_changed": changed,
            "stages": stages, "streams": minimums, "raw_rows": _raw_rows(cfg.warehouse_path)}


def dbt_profile(run_results: Path, top: int = 8) -> dict[str, Any]:
    """Where dbt's time went (run_results.json): node time per kind and the slowest nodes."""
    if not run_results.exists():
        return {}
    results = json.loads(run_results.read_text()).get("results", [])
    kinds: dict[str, float] = {}
    for r in results:
        kind = r["unique_id"].split(".")[0]
        kinds[kind] = round(kinds.get(kind, 0.0) + r["execution_time"], 2)
    slowest = sorted(results, key=lambda r: -r["execution_time"])[:top]
    return {"nodes": len(results), "node_seconds": kinds,
            "slowest": [[r["unique_id"].split(".", 2)[-1][:80], round(r["execution_time"], 2)] for r in slowest]}


def _raw_rows(warehouse: Path) -> int:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'raw' AND table_name NOT LIKE 'config__%'").fetchall()]
        return sum(con.execute(f'SELECT count(*) FROM raw."{t}"').fetchone()[0] for t in tables)


def summarize(run: dict[str, Any], latency_ms: float) -> dict[str, Any]:
    """Per source: requests made vs minimum, the request floor and the extract wall against it."""
    per_source = {}
    for source in SOURCES:
        streams = [s for s in run["streams"] if s["stream"].startswith(source + "__")]
        extract = next((s for s in run["stages"] if s["stage"] == f"extract:{source}"), None)
        if extract is None:
            continue
        minimum = sum(s["minimum"] for s in streams)
        concurrency = floors.POOL_CONCURRENCY[source]
        floor_s = floors.request_floor_s(minimum, latency_ms, concurrency)
        per_source[source] = {
            "requests": extract["requests"], "requests_in_manifests": sum(s["requests"] for s in streams),
            "graphql_points": sum(s.get("points", 0) for s in streams),
            "minimum": minimum, "requests_ratio": floors.ratio(extract["requests"], minimum),
            "request_floor_s": round(floor_s, 3), "pool_concurrency": concurrency,
            "concurrency_used": extract["concurrency"], "extract_wall_s": extract["wall_s"],
            "extract_vs_floor": floors.ratio(extract["wall_s"], floor_s),
        }
    requests = sum(v["requests"] for v in per_source.values())
    minimum = sum(v["minimum"] for v in per_source.values())
    wall = sum(s["wall_s"] for s in run["stages"] if s["stage"] != "load_floor")
    load = next(s for s in run["stages"] if s["stage"] == "load")
    floor = next(s for s in run["stages"] if s["stage"] == "load_floor")
    return {"per_source": per_source, "requests": requests, "minimum": minimum,
            "streams": {s["stream"]: {"requests": s["requests"], "minimum": s["minimum"],
                                      "requests_ratio": floors.ratio(s["requests"], s["minimum"])}
                        for s in run["streams"]},
            "requests_ratio": floors.ratio(requests, minimum), "pipeline_wall_s": round(wall, 3),
            "extract_wall_s": round(sum(v["extract_wall_s"] for v in per_source.values()), 3),
            "load_wall_s": load["wall_s"], "load_floor_wall_s": floor["wall_s"],
            "load_work_s": load["work_s"], "load_floor_work_s": floor["work_s"],
            "load_vs_duckdb": floors.ratio(load["wall_s"], floor["wall_s"]),
            "load_vs_duckdb_work": floors.ratio(load["work_s"], floor["work_s"]),
            "transform_wall_s": next((s["wall_s"] for s in run["stages"] if s["stage"] == "transform"), None)}


# --- the peer ------------------------------------------------------------------------------------------------

def dlt_python(rebuild: bool = False) -> str:
    """bench/.venv-dlt with bench/requirements-dlt.txt: created on first use, kept apart from the project's venv."""
    venv = BENCH / ".venv-dlt"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    requirements = BENCH / "requirements-dlt.txt"
    if rebuild or not stamp.exists() or stamp.read_text() != requirements.read_text():
        log("creating bench/.venv-dlt (dlt from PyPI, pinned in bench/requirements-dlt.txt)")
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r",
                        str(requirements)], check=True)
        stamp.write_text(requirements.read_text())
    return str(python)


def incident_windows(created: list[datetime], start: datetime, end: datetime) -> list[tuple[str, str]]:
    """The creation windows our incidents stream ends up reading: ≤179 days, halved while over the offset cap."""
    from extractors.pagination import PageRequest
    from extractors.sources.pagerduty import creation_windows, iso_z, split_incident_request
    from extractors.streams import parse_timestamp

    queue = [PageRequest("GET", "/incidents", (("since", iso_z(a)), ("until", iso_z(b))))
             for a, b in creation_windows(start, end)]
    out = []
    while queue:
        request = queue.pop(0)
        lo, hi = parse_timestamp(request.param("since")), parse_timestamp(request.param("until"))
        if sum(1 for c in created if lo <= c < hi) > 10_000:
            queue[:0] = split_incident_request(request)
        else:
            out.append((request.param("since"), request.param("until")))
    return out


def _ours_peer(mode: str, emu: Emulator, repos: list[str], projects: list[str], run_date: date, now: str,
               work: Path) -> dict[str, Any]:
    """Our extract + load of GitHub pull requests and PagerDuty incidents into a new warehouse.

    `mapped`: one process per partition, as the Airflow DAG maps them (GitHub pool 2, PagerDuty pool 1, side by
    side). `threads`: one process per API with its partitions on as many threads as its pool has slots."""
    import duckdb

    from opskpi.config import load_config

    peer_dir = work / "peer" / f"ours-{mode}"
    shutil.rmtree(peer_dir, ignore_errors=True)
    config = write_config(peer_dir / "config.yml", peer_dir / "data", emu, repos, projects)
    cfg = load_config(config)
    base = {"config": str(config), "run_date": run_date.isoformat(), "now": now, "run_id": f"bench-peer-{mode}"}
    gh, pd = floors.POOL_CONCURRENCY["github"], floors.POOL_CONCURRENCY["pagerduty"]
    if mode == "mapped":
        specs = [{**base, "stage": "extract", "source": "pagerduty", "partition": "", "streams": ["incidents"],
                  "label": "pagerduty"}]
        specs += [{**base, "stage": "extract", "source": "github", "partition": r, "streams": ["pulls"], "label": r}
                  for r in repos]
        processes = gh + pd
    else:
        specs = [{**base, "stage": "extract", "source": "pagerduty", "partitions": [""], "streams": ["incidents"],
                  "threads": pd, "label": "pagerduty"},
                 {**base, "stage": "extract", "source": "github", "partitions": repos, "streams": ["pulls"],
                  "threads": gh, "label": "github"}]
        processes = 2
    log(f"peer: ours ({mode}), extract github pulls ({len(repos)} repositories) + pagerduty incidents, "
        f"{gh + pd} requests in flight")
    emu.reset()
    cpu = emu.cpu_s()
    extract = run_stage(f"peer:ours-{mode}:extract", specs, peer_dir / "proc", processes)
    emulator_cpu = emu.cpu_s() - cpu
    requests = sum(emu.requests().values())
    # The comparison is extract + load: the batches are marked validated here (GE is timed in the main run).
    from extractors.landing import complete_batches, write_json_atomic
    from opskpi.load import VALIDATION_FILE

    for source, stream in (("github", "pulls"), ("pagerduty", "incidents")):
        for batch in complete_batches(cfg.landing_dir, source, stream):
            write_json_atomic(batch / VALIDATION_FILE, {"success": True, "batch_id": batch.name, "bench": True})
    load = run_stage(f"peer:ours-{mode}:load", [{**base, "stage": "load"}], peer_dir / "proc")
    with duckdb.connect(str(cfg.warehouse_path), read_only=True) as con:
        rows = {"pulls": con.execute("SELECT count(*) FROM raw.github__pulls").fetchone()[0],
                "incidents": con.execute("SELECT count(*) FROM raw.pagerduty__incidents").fetchone()[0]}
        created = [r[0] for r in con.execute("SELECT created_at FROM raw.pagerduty__incidents").fetchall()]
    return {"mode": mode, "wall_s": round(extract.wall_s + load.wall_s, 3), "extract_wall_s": round(extract.wall_s, 3),
            "load_wall_s": round(load.wall_s, 3), "requests": requests, "rows": rows, "processes": len(specs) + 1,
            "cpu_s": round(sum(p["cpu_s"] for p in extract.processes + load.processes), 2),
            "emulator_cpu_s": round(emulator_cpu, 2),
            "peak_rss_mb": max(extract.peak_rss_mb, load.peak_rss_mb), "concurrency": gh + pd,
            "_created": created, "_history_days": cfg.history_days}


def run_peer(emu: Emulator, repos: list[str], projects: list[str], run_date: date, now: str, work: Path,
             skip_dlt: bool = False) -> dict[str, Any]:
    """Ours (extract pulls and incidents as the pools allow, then load) against dlt on the same records."""
    from opskpi.config import load_config
    from opskpi.pipeline import RunContext

    threads = _ours_peer("threads", emu, repos, projects, run_date, now, work)
    mapped = _ours_peer("mapped", emu, repos, projects, run_date, now, work)
    created, history_days = threads.pop("_created"), threads.pop("_history_days")
    mapped.pop("_created"), mapped.pop("_history_days")
    cfg = load_config(work / "peer" / "ours-threads" / "config.yml")
    ctx = RunContext.for_date(cfg, run_date, "bench-peer", now=datetime.fromisoformat(now.replace("Z", "+00:00")))
    start = ctx.as_of - timedelta(days=history_days)
    result = {"ours": threads, "ours_mapped": mapped, "window_start": start.isoformat(),
              "window_end": ctx.as_of.isoformat()}
    if skip_dlt:
        return result
    python = dlt_python()
    windows = incident_windows([c.astimezone(UTC) for c in created if c is not None and c >= start], start,
                               ctx.as_of)
    workers = threads["concurrency"]
    for name, file_format in (("parquet", "parquet"), ("default", None)):
        dlt_dir = work / "peer" / f"dlt-{name}"
        shutil.rmtree(dlt_dir, ignore_errors=True)
        log(f"peer: dlt rest_api, loader {file_format or 'default (insert_values)'}")
        emu.reset()
        cpu = emu.cpu_s()
        spec = {"script": str(BENCH / "dlt_peer.py"), "name": f"opskpi_bench_{name}", "work_dir": str(dlt_dir),
                "base_url": emu.url, "repos": repos, "window_start": start.isoformat().replace("+00:00", "Z"),
                "incident_windows": windows, "loader_file_format": file_format, "workers": workers,
                "github_token": TOKENS["OPSKPI_GITHUB_TOKEN"], "pagerduty_token": TOKENS["OPSKPI_PAGERDUTY_TOKEN"]}
        stage = run_stage(f"peer:dlt-{name}", [spec], work / "peer" / "proc", python=python, module=None)
        proc = stage.processes[0]
        result[f"dlt_{name}"] = {"wall_s": round(stage.wall_s, 3), "requests": sum(emu.requests().values()),
                                 "seconds": proc["result"]["seconds"], "rows": proc["result"]["rows"],
                                 "distinct": proc["result"]["distinct"], "peak_rss_mb": stage.peak_rss_mb,
                                 "cpu_s": proc["cpu_s"], "emulator_cpu_s": round(emu.cpu_s() - cpu, 2),
                                 "dlt_version": proc["result"].get("dlt_version"), "concurrency": workers}
        shutil.rmtree(dlt_dir, ignore_errors=True)
    return result


# --- the whole benchmark -------------------------------------------------------------------------------------

def bench(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    meta = {"scale": args.scale, "latency_ms_asked": args.latency_ms, "seed": args.seed, "now": args.now,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "loadavg_start": loadavg(),
            "pool_concurrency": floors.POOL_CONCURRENCY, "api_max_page": {f"{s}__{n}": p for (s, n), p in
                                                                          floors.API_MAX_PAGE.items()}}
    log(f"emulator --scale {args.scale} --latency-ms {args.latency_ms:g}")
    emu = Emulator(args.scale, args.latency_ms, args.seed, args.now, work / "emulator.log")
    results: dict[str, Any] = {"meta": meta}
    try:
        meta.update(emulator_url=emu.url, latency_ms=emu.latency_ms, emulator_startup_s=round(emu.startup_s, 2),
                    emulator_settings=emu.settings, emulator_warmed=emu.warmed,
                    emulator_command=" ".join(emu.command[2:]))
        repos, projects = discover(emu)
        meta.update(repos=len(repos), projects=len(projects))
        log(f"{len(repos)} repositories, {len(projects)} Jira projects")
        config = write_config(work / "run" / "config.yml", work / "run" / "data", emu, repos, projects)
        first_date = datetime.fromisoformat(args.now.replace("Z", "+00:00")).date() - timedelta(days=1)
        profile = set(args.profile or [])
        full = run_pipeline("full", config, first_date, args.now, emu, work / "run" / "proc", profile=profile)
        now2 = (datetime.fromisoformat(args.now.replace("Z", "+00:00")) + timedelta(days=1))
        now2_s = now2.strftime("%Y-%m-%dT%H:%M:%SZ")
        emu.admin("advance", {"days": 1})
        incremental = run_pipeline("incremental", config, first_date + timedelta(days=1), now2_s, emu,
                                   work / "run" / "proc", profile=profile)
        results["full"], results["incremental"] = full, incremental
        results["full_summary"] = summarize(full, emu.latency_ms)
        results["incremental_summary"] = summarize(incremental, emu.latency_ms)
        if not args.skip_peer:
            results["peer"] = run_peer(emu, repos, projects, first_date + timedelta(days=1), now2_s, work,
                                       skip_dlt=args.skip_dlt)
    finally:
        emu.stop()
    if args.extract_memory:
        results["extract_memory"] = extract_memory(args.extract_memory.split(","), args, work)
    results["targets"] = evaluate(results, args.scale)
    meta.update(finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
                total_s=round(time.perf_counter() - started, 1), loadavg_end=loadavg())
    return results


def extract_memory(scales: list[str], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Peak RSS of one extract process per source at each scale: the first named partition of each source (a GitHub
    repository holds the same volume at every preset, a Jira project or a PagerDuty account grows with it), else its
    source-wide one.
    No latency is added: it changes time, not memory."""
    out: dict[str, Any] = {"scales": scales, "extract": {}}
    work.mkdir(parents=True, exist_ok=True)
    for scale in scales:
        ref_work = work / f"memory-{scale}"
        log(f"extract memory: emulator --scale {scale}")
        emu = Emulator(scale, 0, args.seed, args.now, work / f"memory-{scale}.emulator.log")
        try:
            repos, projects = discover(emu)
            config = write_config(ref_work / "config.yml", ref_work / "data", emu, repos, projects)
            from opskpi import pipeline
            from opskpi.config import load_config

            cfg = load_config(config)
            first_date = datetime.fromisoformat(args.now.replace("Z", "+00:00")).date() - timedelta(days=1)
            base = {"config": str(config), "run_date": first_date.isoformat(), "now": args.now,
                    "run_id": f"bench-memory-{scale}"}
            for source in SOURCES:
                parts = pipeline.partitions(cfg, source)
                part = next((p for p in parts if p), parts[0])
                stage = run_stage(f"memory:{scale}:{source}", [{**base, "stage": "extract", "source": source,
                                                                 "partition": part, "label": part or "*"}],
                                  ref_work / "proc")
                rows = sum(v["rows"] for v in stage.processes[0]["result"].values())
                out["extract"].setdefault(scale, {})[source] = {
                    "partition": part, "peak_rss_mb": stage.peak_rss_mb, "rows": rows,
                    "wall_s": round(stage.wall_s, 3)}
                log(f"  {scale} {source}[{part or '*'}]: {rows:,} rows, peak RSS {stage.peak_rss_mb:.0f} MB")
        finally:
            emu.stop()
    return out


# Streams held to their own requests / minimum on the incremental day (target key: stream), beside the whole run's:
# the PagerDuty alerts child stream may re-read an incident on every run while it is open (issue 21), so its
# waste would hide in the run's total.
STREAM_TARGETS = {"requests_incident_alerts": "pagerduty__incident_alerts"}


def evaluate(results: dict[str, Any], scale: str) -> list[dict[str, Any]]:
    T = floors.TARGETS
    full, inc = results.get("full_summary"), results.get("incremental_summary")
    rows: list[dict[str, Any]] = []

    def add(key: str, value: float | None, detail: str, applies: bool = True) -> None:
        target = T[key]
        rows.append({"target": key, "name": target.name, "limit": target.describe(),
                     "value": None if value is None else round(value, 4),
                     "verdict": target.judge(value) if applies else f"n/a at {scale}", "detail": detail})

    if full and inc:
        add("requests_full", full["requests_ratio"], f"{full['requests']} requests / {full['minimum']} minimum")
        add("requests_incremental", inc["requests_ratio"], f"{inc['requests']} requests / {inc['minimum']} minimum")
        for key, stream in STREAM_TARGETS.items():
            measured = inc.get("streams", {}).get(stream)
            detail = f"{measured['requests']} requests / {measured['minimum']} minimum" if measured else "not run"
            add(key, measured and measured["requests_ratio"], f"{stream}: {detail}")
        add("incremental_requests", floors.ratio(inc["requests"], full["requests"]),
            f"{inc['requests']} / {full['requests']} requests")
        add("incremental_wall", floors.ratio(inc["pipeline_wall_s"], full["pipeline_wall_s"]),
            f"{inc['pipeline_wall_s']:.1f} s / {full['pipeline_wall_s']:.1f} s, all stages")
        add("load_vs_duckdb", full["load_vs_duckdb"],
            f"full run: {full['load_wall_s']:.2f} s / {full['load_floor_wall_s']:.2f} s "
            f"(incremental: {inc['load_wall_s']:.2f} s / {inc['load_floor_wall_s']:.2f} s)")
        add("dbt_incremental", floors.ratio(inc["transform_wall_s"], full["transform_wall_s"]),
            f"{inc['transform_wall_s']:.1f} s / {full['transform_wall_s']:.1f} s", applies=scale == "large")
    memory = results.get("extract_memory")
    if memory and len(memory["scales"]) == 2:
        small, big = memory["scales"]
        a, b = memory["extract"][small], memory["extract"][big]
        worst = max((b[s]["peak_rss_mb"] / a[s]["peak_rss_mb"], s) for s in a if a[s]["peak_rss_mb"])
        detail = ", ".join(f"{s} {b[s]['peak_rss_mb']:.0f}/{a[s]['peak_rss_mb']:.0f} MB "
                           f"({b[s]['rows']:,}/{a[s]['rows']:,} rows)" for s in a)
        add("extract_rss", worst[0], f"{big} / {small}, one extract process per source: {detail}"
            + (f"; {memory['note']}" if memory.get("note") else ""))
    peer = results.get("peer") or {}
    if "dlt_parquet" in peer:
        ours, dlt = peer["ours"], peer["dlt_parquet"]
        add("peer_speedup", floors.ratio(dlt["wall_s"], ours["wall_s"]),
            f"dlt parquet {dlt['wall_s']:.1f} s / ours {ours['wall_s']:.1f} s "
            f"(dlt default: {peer['dlt_default']['wall_s']:.1f} s)")
        add("peer_requests", floors.ratio(ours["requests"], dlt["requests"]),
            f"ours {ours['requests']} / dlt {dlt['requests']} requests")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="medium", help="emulator scale (default: medium)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="latency the emulator adds per request")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--now", default=DEFAULT_NOW, help="the emulator's start clock")
    parser.add_argument("--out", default=str(BENCH / "results"), help="directory of <date>.json and <date>.md")
    parser.add_argument("--work-dir", default=str(BENCH / ".work"), help="scratch data (removed at the start)")
    parser.add_argument("--skip-peer", action="store_true", help="no peer comparison")
    parser.add_argument("--skip-dlt", action="store_true", help="measure our side of the peer comparison only")
    parser.add_argument("--extract-memory", metavar="SMALL,BIG",
                        help="compare one extract process per source at two scales (default with --scale large: "
                             "medium,large; at medium see --only-extract-memory)")
    parser.add_argument("--only-extract-memory", action="store_true",
                        help="only the extract memory comparison: writes <date>-extract-memory.json and .md")
    parser.add_argument("--profile", action="append", metavar="RUN:STAGE[:SOURCE]",
                        help="cProfile a stage, e.g. full:load or incremental:extract:github (repeatable)")
    args = parser.parse_args(argv)
    if args.extract_memory is None and args.scale == "large":
        args.extract_memory = "medium,large"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = datetime.now(UTC).strftime("%Y-%m-%d")
    if args.only_extract_memory:
        work = Path(args.work_dir)
        shutil.rmtree(work, ignore_errors=True)
        memory = extract_memory((args.extract_memory or "medium,large").split(","), args, work)
        memory.update(measured_at=datetime.now(UTC).isoformat(timespec="seconds"), loadavg=loadavg())
        (out / f"{stem}-extract-memory.json").write_text(json.dumps(memory, indent=2) + "\n")
        log(f"wrote {out / stem}-extract-memory.json")
        return 0
    results = bench(args)
    if "extract_memory" not in results:  # a separate measurement of the same day, when there is one
        separate = out / f"{stem}-extract-memory.json"
        if separate.exists():
            results["extract_memory"] = {**json.loads(separate.read_text()),
                                         "note": f"measured by `python -m bench --only-extract-memory` "
                                                 f"({separate.name})"}
            results["targets"] = evaluate(results, args.scale)
    if args.scale != "medium":
        stem += f"-{args.scale}"
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / f"{stem}.md").write_text(render_markdown(results))
    log(f"wrote {out / stem}.json and .md in {results['meta']['total_s']:.0f} s")
    print(render_markdown(results, targets_only=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
