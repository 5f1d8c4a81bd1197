"""What a failed dbt test found, in the run's error: the test's first failing rows, not only its name.

dbt prints `Failure in test row_rules_fct_incidents_… Got 1 result`: the test, not the row or column at
fault. A model-level test covering many rules (`row_rules`) or a singular test says which rule, column or which
record only in its result rows, so after a failed build the pipeline reruns each failed test's compiled query
(from `run_results.json`) with a small limit and puts the rows in the error. Cells are cut short: the message is
for a person, and the rows come from the APIs (possibly hostile text)."""

from __future__ import annotations

import json
from pathlib import Path

SAMPLE_ROWS = 5
MAX_TESTS = 10
MAX_CELL = 120


def _cell(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL] + "…"


def failed_tests(run_results: Path) -> list[dict]:
    """The failed tests of a build: `unique_id`, `failures` (row count) and the compiled query."""
    try:
        results = json.loads(run_results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    return [r for r in results if r.get("unique_id", "").startswith("test.") and r.get("status") == "fail"
            and r.get("compiled_code")]


def describe(con, run_results: Path) -> list[str]:
    """One line per failed test (at most MAX_TESTS): its name, failing-row count and first rows as column=value."""
    lines = []
    for result in failed_tests(run_results)[:MAX_TESTS]:
        name = result["unique_id"].split(".")[2]
        try:
            cursor = con.execute(f"select * from ({result['compiled_code']}) as failing limit {SAMPLE_ROWS}")
            columns = [d[0] for d in cursor.description]
            rows = ["; ".join(f"{c}={_cell(v)}" for c, v in zip(columns, row, strict=True))
                    for row in cursor.fetchall()]
        except Exception as exc:  # noqa: BLE001 - the sample is a courtesy; the build's failure is the error
            rows = [f"(its rows could not be read: {_cell(exc)})"]
        lines.append(f"test {name} failed ({result.get('failures')} rows): " + " | ".join(rows))
    return lines
