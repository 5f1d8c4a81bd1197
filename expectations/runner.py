"""Validate a DataFrame against a suite file with Great Expectations, and explain failures plainly.

Suites live as JSON files beside this module (`suites/<source>__<stream>.json`), one per stream.
Validation runs on pandas DataFrames in an ephemeral context: GX's DuckDB SQL path is broken
upstream, and a file context would add state we do not need. Timestamp columns listed in the
suite's meta get a parsed `<column>__utc` twin so ordering rules compare instants, not strings.

Beside each suite's own rules, every batch gets the generic ones (`GENERIC_EXPECTATIONS`): a record
the landing writer flagged in `_problem` (not an object, a key that is an object, an integer column
that is not an integer, a timestamp the warehouse cannot cast, invalid Unicode) fails the batch, so a
record that would break the load is quarantined with its reason instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

SUITES_DIR = Path(__file__).parent / "suites"

for noisy in ("great_expectations", "great_expectations._docs_decorators"):
    logging.getLogger(noisy).setLevel(logging.WARNING)


# Checked on every batch whatever its suite says (when the batch has the column).
GENERIC_EXPECTATIONS = [
    {
        "type": "expect_column_values_to_be_null",
        "kwargs": {"column": "_problem"},
        "meta": {"severity": "critical", "rule": "every record can be stored as the stream declares it"},
    },
]


@dataclass
class Failure:
    expectation: str
    kwargs: dict[str, Any]
    severity: str
    unexpected_count: int
    example: dict[str, Any] | None
    rule: str | None = None

    def describe(self) -> str:
        target = self.kwargs.get("column") or self.kwargs.get("column_list") or (
            f"{self.kwargs.get('column_A')} >= {self.kwargs.get('column_B')}"
        )
        text = f"{self.expectation} on {target}: {self.unexpected_count} bad row(s)"
        if self.rule:
            text += f" ({self.rule})"
        if self.example is not None:
            text += f"; example: {json.dumps(self.example, default=str)[:400]}"
        return text


@dataclass
class Outcome:
    suite: str
    success: bool
    evaluated: int
    failures: list[Failure] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def critical(self) -> list[Failure]:
        return [f for f in self.failures if f.severity == "critical"]

    def summary(self) -> str:
        if not self.failures:
            return f"{self.suite}: {self.evaluated} expectations passed"
        return f"{self.suite}: " + "; ".join(f.describe() for f in self.failures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "success": self.success,
            "evaluated": self.evaluated,
            "failures": [f.__dict__ for f in self.failures],
        }


def suite_path(name: str) -> Path:
    return SUITES_DIR / f"{name}.json"


def load_suite_document(name: str) -> dict[str, Any]:
    path = suite_path(name)
    if not path.exists():
        raise FileNotFoundError(f"no expectation suite for {name}: create {path}")
    return json.loads(path.read_text())


@lru_cache(maxsize=1)
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _prepare(df: pd.DataFrame, timestamp_columns: list[str]) -> pd.DataFrame:
    df = df.reset_index(drop=True).copy()
    for column in timestamp_columns:
        if column in df.columns:
            parsed = pd.to_datetime(df[column], errors="coerce", utc=True, format="ISO8601")
            df[f"{column}__utc"] = parsed.dt.tz_convert(None)  # naive UTC: GX compares these cleanly
    return df


def _example(df: pd.DataFrame, result: dict[str, Any], id_columns: list[str]) -> dict[str, Any] | None:
    """One offending row, with its identifying columns and the values the rule looked at."""
    indexes = result.get("unexpected_index_list") or result.get("partial_unexpected_index_list") or []
    if not indexes:
        return None
    first = indexes[0]
    if isinstance(first, dict):
        return {k: (None if pd.isna(v) else v) if not isinstance(v, (list, dict)) else v for k, v in first.items()}
    try:
        row = df.loc[first]
    except KeyError:
        return None
    keep = [c for c in df.columns if c != "record" and not c.endswith("__utc")]
    return {c: (None if pd.isna(row[c]) else row[c]) for c in keep}


def validate_frame(df: pd.DataFrame, suite_name: str, id_columns: list[str] | None = None) -> Outcome:
    import great_expectations as gx

    document = load_suite_document(suite_name)
    meta = document.get("meta", {})
    prepared = _prepare(df, meta.get("timestamp_columns", []))
    context = _context()
    expectations = [
        {k: v for k, v in e.items() if k != "id"} for e in document["expectations"]
    ] + [e for e in GENERIC_EXPECTATIONS if e["kwargs"]["column"] in prepared.columns]
    suite = gx.ExpectationSuite(name=f"{suite_name}", expectations=expectations)
    try:
        context.suites.delete(suite_name)
    except Exception:  # noqa: BLE001 - absent on first use; GX raises several types here
        pass
    suite = context.suites.add(suite)
    source_name = f"batch_{suite_name}"
    try:
        source = context.data_sources.get(source_name)
    except (KeyError, ValueError):
        source = context.data_sources.add_pandas(source_name)
    try:
        asset = source.get_asset("frame")
    except (LookupError, ValueError):
        asset = source.add_dataframe_asset("frame")
    try:
        definition = asset.get_batch_definition("whole")
    except (KeyError, ValueError):
        definition = asset.add_batch_definition_whole_dataframe("whole")
    # The record's key, then where it was read (page, position): names even a record without a key.
    index_columns = [c for c in [*(id_columns or []), "_page", "_seq"] if c in prepared.columns]
    result_format: dict[str, Any] = {"result_format": "COMPLETE", "partial_unexpected_count": 3}
    if index_columns:
        result_format["unexpected_index_column_names"] = index_columns
    result = definition.get_batch(batch_parameters={"dataframe": prepared}).validate(
        suite, result_format=result_format
    )
    failures = []
    for item in result.results:
        if item.success:
            continue
        details = item.result or {}
        failures.append(Failure(
            expectation=item.expectation_config.type,
            kwargs={k: v for k, v in item.expectation_config.kwargs.items() if k != "batch_id"},
            severity=(item.expectation_config.meta or {}).get("severity", "critical"),
            unexpected_count=int(details.get("unexpected_count") or 0),
            example=_example(prepared, details, index_columns),
            rule=(item.expectation_config.meta or {}).get("rule"),
        ))
    outcome = Outcome(
        suite=suite_name,
        success=not any(f.severity == "critical" for f in failures),
        evaluated=len(result.results),
        failures=failures,
    )
    outcome.result = json.loads(json.dumps(result.describe_dict(), default=str))
    return outcome
