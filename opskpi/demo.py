"""`make demo`: the whole pipeline on the built-in emulator.

Starts the emulator on a free loopback port, points `config/demo.yml` at it through
`OPSKPI_EMULATOR_URL`, runs `opskpi run` for the day before the emulator's clock (which prints a live line per
stream, then the summary: tasks, requests per source, headline KPIs, where the outputs are) and stops the emulator.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from opskpi import cli, processes

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = PROJECT_ROOT / "config" / "demo.yml"
DEMO_NOW = "2026-11-20T06:00:00Z"
# The emulator's built-in demo credentials: not secrets, they only open the local emulator.
DEMO_TOKENS = {
    "OPSKPI_JIRA_TOKEN": "jira-demo-token",
    "OPSKPI_PAGERDUTY_TOKEN": "pd-demo-token",
    "OPSKPI_GITHUB_TOKEN": "gh-demo-token",
}


class Emulator:
    """The emulator as a child process on a free port."""

    def __init__(self, seed: int = 42, now: str = DEMO_NOW):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "emulator", "--port", "0", "--seed", str(seed), "--now", now,
             "--profile", "healthy"],
            stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT,
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("emulator listening on "):
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.url = line.removeprefix("emulator listening on ")

    def stop(self) -> None:
        processes.stop(self.process, grace_s=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opskpi-demo", description=__doc__)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--now", default=DEMO_NOW, help="the emulator's clock")
    parser.add_argument("--verbose", action="store_true", help="print Airflow's task logs (opskpi run --verbose)")
    args = parser.parse_args(argv)
    extra = ["--verbose"] if args.verbose else []
    run_date = datetime.fromisoformat(args.now.replace("Z", "+00:00")).date() - timedelta(days=1)
    emulator = Emulator(seed=args.seed, now=args.now)
    try:
        os.environ["OPSKPI_EMULATOR_URL"] = emulator.url
        for name, value in DEMO_TOKENS.items():
            os.environ.setdefault(name, value)
        print(f"emulator at {emulator.url} (clock {args.now}); running opskpi for {run_date}", flush=True)
        code = cli.main(["run", "--config", str(DEMO_CONFIG), "--date", run_date.isoformat(), *extra])
    finally:
        emulator.stop()
    if code != 0:
        print("the demo run failed: see the errors and the task log named above", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
