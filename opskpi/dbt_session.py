"""The dbt part of a run in one process: `dbt source freshness`, the record of its results, then `dbt build`.

Why: every dbt process pays Python's and dbt's imports and a (partial) parse of the project, ~4.5 s on 2 cores,
against ~0.4 s for the freshness queries themselves. Run as two processes, freshness and the build paid that twice
every night (and in every test run of the pipeline). dbt's programmatic entry point (`dbtRunner`, dbt-core's
documented API) takes a parsed manifest and reuses it for every later command, so the project is parsed once here.

The freshness results are written by a dbt operation (`record_source_freshness`), not by opening the warehouse from
Python: this process holds dbt-duckdb's connection to the file, and a second DuckDB connection to the same file
with other settings is refused by DuckDB.

Started by opskpi/pipeline.py `transform` through opskpi/dbt_process.py (shared parse, inherited lock descriptor):

    python -m opskpi.dbt_session SPEC --project-dir … --profiles-dir … --vars …

The arguments after SPEC are those of every dbt command (so dbt_process finds the vars where it finds them in a dbt
command line). SPEC (JSON): `build` (the `dbt build` arguments after `build`) and optionally `freshness` (`output`: the
sources.json dbt writes in its target directory, `select`, `rows`: where the parsed rows go, `run_date`,
`run_id`).

Exit status: dbt's for the build (0 passed, 1 failed, 2 dbt crashed); `FRESHNESS_FAILED` when freshness left no
results or they could not be recorded (the build is not started then).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FRESHNESS_FAILED = 3
# Printed before the build: what precedes it is the parse and the freshness check, which a build's failure report
# leaves out (a source past its error threshold prints ERROR lines that are not the build's).
BUILD_STARTS = "opskpi: dbt build starts\n"


def _status(result) -> int:
    if result.exception is not None:
        return 2
    return 0 if result.success else 1


def run(spec: dict[str, Any], common: list[str]) -> int:
    from dbt.cli.main import dbtRunner

    from opskpi import freshness

    parsed = dbtRunner().invoke(["parse", *common])
    if parsed.exception is not None or not parsed.success:
        return _status(parsed)
    runner = dbtRunner(manifest=parsed.result)
    check = spec.get("freshness")
    if check:
        output = Path(check["output"])
        output.unlink(missing_ok=True)
        # Its exit status says whether a source is past a threshold: reported, never failing the run.
        runner.invoke(["source", "freshness", "--select", *check["select"], *common])  # writes target/sources.json
        if not output.exists():
            print("dbt source freshness wrote no results", flush=True)
            return FRESHNESS_FAILED
        rows = Path(check["rows"])
        rows.write_text(json.dumps(freshness.parse_results(output)))
        args = {"rows_path": str(rows.absolute()), "run_date": check["run_date"], "run_id": check["run_id"]}
        recorded = runner.invoke(["run-operation", "record_source_freshness", "--args", json.dumps(args), *common])
        if not recorded.success:
            print("recording the source freshness results failed", flush=True)
            return FRESHNESS_FAILED
    print(BUILD_STARTS, end="", flush=True)
    return _status(runner.invoke(["build", *spec["build"], *common]))


if __name__ == "__main__":
    sys.exit(run(json.loads(sys.argv[1]), sys.argv[2:]))
