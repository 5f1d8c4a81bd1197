"""`make demo`: the whole pipeline on the built-in emulator, then a few headline numbers.

Starts the emulator on a free loopback port, points `config/demo.yml` at it through
`OPSKPI_EMULATOR_URL`, runs `opskpi run` for the day before the emulator's clock, stops the
emulator, and reads the published file the way a BI tool would (read-only, never the warehouse).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from opskpi import cli
from opskpi.config import load_config

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

    def admin(self, path: str, payload: dict | None = None) -> dict:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{self.url}/__emulator/{path}", data=data,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def headline(published: Path, run_date: date) -> list[str]:
    lines = []
    with duckdb.connect(str(published), read_only=True) as con:
        tables = con.execute(
            "SELECT table_name, estimated_size FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1"
        ).fetchall()
        lines.append("marts: " + ", ".join(f"{t} ({n} rows)" for t, n in tables))
        services, days = con.execute(
            "SELECT count(DISTINCT service_id), count(DISTINCT day) FROM marts.mart_availability_daily"
        ).fetchone()
        lines.append(f"availability: {services} services x {days} days, dense")
        start = run_date - timedelta(days=29)
        org, worst = con.execute(
            """SELECT avg(availability_pct), min(availability_pct) FROM marts.mart_availability_daily
               WHERE day BETWEEN ? AND ?""", [start, run_date]).fetchone()
        lines.append(f"org availability, last 30 days: {org:.3f} % (worst service-day {worst:.2f} %)")
        rows = con.execute(
            """SELECT service_name, team, error_budget_remaining_pct FROM marts.mart_availability_daily
               WHERE day = ? ORDER BY error_budget_remaining_pct LIMIT 3""", [run_date]).fetchall()
        for name, team, budget in rows:
            lines.append(f"  error budget left on {run_date}: {name} ({team}) {budget:.1f} %")
    return lines


def requests_per_stream(warehouse: Path, run_id_prefix: str = "") -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            """SELECT source || '__' || stream, sum(requests), sum(pages), sum(rows_landed)
               FROM meta.batches WHERE run_id = (SELECT max(run_id) FROM meta.batches WHERE run_id LIKE ?)
               GROUP BY 1 ORDER BY 1""", [run_id_prefix + "%"]).fetchall()
    width = max((len(row[0]) for row in rows), default=0)
    return [f"  {name:<{width}} {req:>5} requests {pages:>5} pages {n:>7} records" for name, req, pages, n in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opskpi-demo", description=__doc__)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--now", default=DEMO_NOW, help="the emulator's clock")
    args = parser.parse_args(argv)
    run_date = datetime.fromisoformat(args.now.replace("Z", "+00:00")).date() - timedelta(days=1)
    emulator = Emulator(seed=args.seed, now=args.now)
    try:
        os.environ["OPSKPI_EMULATOR_URL"] = emulator.url
        for name, value in DEMO_TOKENS.items():
            os.environ.setdefault(name, value)
        print(f"emulator at {emulator.url} (clock {args.now}); running opskpi for {run_date}")
        code = cli.main(["run", "--config", str(DEMO_CONFIG), "--date", run_date.isoformat()])
        stats = emulator.admin("stats")
    finally:
        emulator.stop()
    if code != 0:
        print("the demo run failed; see the task logs above", file=sys.stderr)
        return code
    config = load_config(DEMO_CONFIG)
    published = config.published_dir / "opskpi.duckdb"
    print()
    print(f"published DuckDB: {published}")
    print(f"published Parquet: {config.published_dir / 'parquet'}/")
    print(f"nightly report: {config.published_dir / 'report' / 'latest' / 'index.html'}")
    for line in headline(published, run_date):
        print(line)
    print("HTTP requests this run, per stream (from the landing manifests):")
    for line in requests_per_stream(config.warehouse_path):
        print(line)
    print("HTTP requests the emulator served: " + json.dumps(stats.get("requests", stats), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
