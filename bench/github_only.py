"""GitHub only, as `make bench` runs it (bench.run.run_pipeline), without dbt and the other sources: the full run
and the incremental day's extract, validate and load, their requests against the minimum, points and CPU.

`python -m bench.github_only [SCALE] [WORK_DIR]`: prints the figures and writes WORK_DIR/result.json. For a quick
check of the GitHub targets (requests / minimum, extract wall and CPU) without the ~15 minutes of a whole bench.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import datetime, timedelta
from pathlib import Path

from bench.run import DEFAULT_NOW, Emulator, discover, loadavg, run_pipeline, write_config


def _figures(run: dict) -> dict:
    extract = next(s for s in run["stages"] if s["stage"] == "extract:github")
    streams = [s for s in run["streams"] if s["stream"].startswith("github__")]
    minimum = sum(s["minimum"] for s in streams)
    return {"requests": extract["requests"], "minimum": minimum, "ratio": round(extract["requests"] / minimum, 4),
            "extract_wall_s": extract["wall_s"], "extract_cpu_s": extract["cpu_s"],
            "points": sum(s.get("points", 0) for s in streams),
            "loadavg": [run["loadavg_before"], run["loadavg_after"]],
            "streams": {s["stream"]: {k: s.get(k) for k in ("requests", "minimum", "points", "rows_landed",
                                                            "records")} for s in streams}}


def main(argv: list[str]) -> int:
    scale = argv[0] if argv else "medium"
    work = Path(argv[1] if len(argv) > 1 else "bench/.work-github")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    emu = Emulator(scale, 20.0, 42, DEFAULT_NOW, work / "emulator.log")
    out: dict = {"scale": scale, "loadavg_start": loadavg()}
    now = datetime.fromisoformat(DEFAULT_NOW.replace("Z", "+00:00"))
    try:
        repos, projects = discover(emu)
        config = write_config(work / "run" / "config.yml", work / "run" / "data", emu, repos, projects)
        cpu = emu.cpu_s()
        full = run_pipeline("full", config, now.date() - timedelta(days=1), DEFAULT_NOW, emu, work / "run" / "proc",
                            sources=("github",), dbt=False)
        out["emulator_cpu_full"] = round(emu.cpu_s() - cpu, 2)
        emu.admin("advance", {"days": 1})
        cpu = emu.cpu_s()
        incremental = run_pipeline("incremental", config, now.date(),
                                   (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"), emu,
                                   work / "run" / "proc", sources=("github",), dbt=False)
        out["emulator_cpu_incremental"] = round(emu.cpu_s() - cpu, 2)
    finally:
        emu.stop()
    out.update(full=_figures(full), incremental=_figures(incremental), loadavg_end=loadavg())
    print(json.dumps(out, indent=1))
    (work / "result.json").write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
