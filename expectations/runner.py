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
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

SUITES_DIR = Path(__file__).parent / "suites"
log = logging.getLogger(__name__)

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


def bound_expectations(document: dict[str, Any], bounds: tuple[datetime, datetime] | None) -> list[dict[str, Any]]:
    """Timestamps outside `bounds` (a record dated 1970 or 2200) fail their batch: one such record would stretch
    every day grid built from it (availability marts 540 → 143,801 rows) and every duration measured from it.

    Every timestamp column is bounded above (`bounds[1]`, nothing is dated after the run); the suite's
    `window_columns` (those the run's read window selects on: `updated`, a run's `created_at`…) below too
    (`bounds[0]`). Other columns may be legitimately old (a Jira issue created years ago, a security alert open
    since 2019): they are bounded above only."""
    if bounds is None:
        return []
    earliest, latest = (moment.astimezone(UTC).replace(tzinfo=None).isoformat() for moment in bounds)
    meta = document.get("meta", {})
    out = []
    for column in meta.get("timestamp_columns", []):
        below = column in meta.get("window_columns", [])
        rule = (f"{column} must lie between {earliest}Z (history start - 1 year) and {latest}Z (run date + 1 day)"
                if below else f"{column} must not be later than {latest}Z (run date + 1 day)")
        out.append({"type": "expect_column_values_to_be_between",
                    "kwargs": {"column": f"{column}__utc", "min_value": earliest if below else None,
                               "max_value": latest},
                    "meta": {"severity": "critical", "rule": rule}})
    return out


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


def columns_to_read(suite_name: str, available: list[str]) -> list[str]:
    """The landed columns a batch is validated on: all but `record` (the whole record as JSON), unless the suite
    names it. No rule reads it (examples leave it out), yet it is most of a batch's bytes: keeping it made
    checking a stream's 33,000 workflow runs take 2.9 GB and 8.6 s of CPU instead of 0.55 GB and 2.3 s."""
    uses_record = '"record"' in json.dumps(load_suite_document(suite_name)["expectations"])
    return [c for c in available if c != "record" or uses_record]


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


def validate_frame(df: pd.DataFrame, suite_name: str, id_columns: list[str] | None = None,
                   timestamp_bounds: tuple[datetime, datetime] | None = None) -> Outcome:
    document = load_suite_document(suite_name)
    prepared = _prepare(df, document.get("meta", {}).get("timestamp_columns", []))
    expectations = [{k: v for k, v in e.items() if k != "id"} for e in document["expectations"]]
    expectations += bound_expectations(document, timestamp_bounds)
    index_columns = [c for c in [*(id_columns or []), "_page", "_seq"] if c in prepared.columns]
    result = _run_suite(prepared, suite_name, expectations, index_columns)
    failures = [_failure(item, prepared, index_columns) for item in result.results if not item.success]
    outcome = Outcome(
        suite=suite_name,
        success=not any(f.severity == "critical" for f in failures),
        evaluated=len(result.results),
        failures=failures,
    )
    outcome.result = json.loads(json.dumps(result.describe_dict(), default=str))
    return outcome


# Expectations that judge each row on its own (uniqueness: each row against the others of its batch, made per batch
# below by adding the batch to the compound key): their unexpected rows name their batch, so several batches can
# be checked in one GX call and each judged alone. A suite with any other kind (or `mostly`, a proportion of the
# whole frame) is checked one batch per call.
ROW_LEVEL = {
    "expect_column_values_to_not_be_null", "expect_column_values_to_be_null", "expect_column_values_to_be_in_set",
    "expect_column_values_to_match_regex", "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_compound_columns_to_be_unique", "expect_column_values_to_be_between",
}
BATCH_COLUMN = "_batch"
# Rows worth checking together in one call at the most (callers group batches by it): bounds the combined
# frame's memory when many batches wait (a full run, a backfill).
MAX_COMBINED_ROWS = 50_000


def validate_frames(frames: dict[str, pd.DataFrame], suite_name: str, id_columns: list[str] | None = None,
                    timestamp_bounds: tuple[datetime, datetime] | None = None) -> dict[str, Outcome]:
    """Outcomes per batch (`frames`: batch id -> its rows) of one stream, with as few GX calls as possible.

    A GX call costs ~0.1 s whatever its size, and an incremental day has one small batch per stream and
    repository (144 at `medium`: 19 s of fixed cost). Batches are checked together, a `_batch` column naming each
    row's batch, and every unexpected row is attributed to its batch: a bad batch fails alone, with its own
    counts and example, exactly as if checked by itself. When that cannot be guaranteed (a suite that is not
    row-level, or a failure GX does not attribute to rows) the batches are checked one by one.

    `timestamp_bounds` (earliest, latest): see `bound_expectations`."""
    document = load_suite_document(suite_name)
    empty = {batch: _passed_without_rows(df, suite_name, document, timestamp_bounds)
             for batch, df in frames.items() if df.empty}
    empty = {batch: outcome for batch, outcome in empty.items() if outcome is not None}
    if empty:
        rest = {batch: df for batch, df in frames.items() if batch not in empty}
        return {**empty, **(validate_frames(rest, suite_name, id_columns, timestamp_bounds) if rest else {})}
    one_by_one = {batch: (df, suite_name, id_columns, timestamp_bounds) for batch, df in frames.items()}
    if len(frames) == 1 or not all(e["type"] in ROW_LEVEL and "mostly" not in e.get("kwargs", {})
                                   for e in document["expectations"]):
        return {batch: validate_frame(*args) for batch, args in one_by_one.items()}
    combined = pd.concat([df.assign(**{BATCH_COLUMN: batch}) for batch, df in frames.items()], ignore_index=True)
    prepared = _prepare(combined, document.get("meta", {}).get("timestamp_columns", []))
    expectations = []
    for e in [*document["expectations"], *bound_expectations(document, timestamp_bounds)]:
        e = {k: v for k, v in e.items() if k != "id"}
        if e["type"] == "expect_compound_columns_to_be_unique":  # unique within a batch, as when checked alone
            e = {**e, "kwargs": {**e["kwargs"], "column_list": [*e["kwargs"]["column_list"], BATCH_COLUMN]}}
        expectations.append(e)
    index_columns = [c for c in [BATCH_COLUMN, *(id_columns or []), "_page", "_seq"] if c in prepared.columns]
    result = _run_suite(prepared, suite_name, expectations, index_columns)
    per_batch: dict[str, list[Failure]] = {batch: [] for batch in frames}
    checked = []
    for item in result.results:
        kwargs = {k: v for k, v in item.expectation_config.kwargs.items() if k != "batch_id"}
        if kwargs.get("column_list") and kwargs["column_list"][-1] == BATCH_COLUMN:
            kwargs["column_list"] = kwargs["column_list"][:-1]
        checked.append({"expectation": item.expectation_config.type, "kwargs": kwargs})
        if item.success:
            continue
        rows = (item.result or {}).get("unexpected_index_list")
        if not rows or not all(isinstance(r, dict) and r.get(BATCH_COLUMN) in per_batch for r in rows):
            log.info("%s: a failure not attributed to rows; checking its %d batches one by one",
                     suite_name, len(frames))
            return {batch: validate_frame(*args) for batch, args in one_by_one.items()}
        template = _failure(item, prepared, index_columns)
        template.kwargs = kwargs
        for batch in per_batch:
            mine = [{k: v for k, v in r.items() if k != BATCH_COLUMN} for r in rows if r[BATCH_COLUMN] == batch]
            if mine:
                per_batch[batch].append(Failure(template.expectation, kwargs, template.severity, len(mine),
                                                _example(prepared, {"unexpected_index_list": mine}, index_columns),
                                                template.rule))
    outcomes = {}
    for batch, failures in per_batch.items():
        failed = {(f.expectation, json.dumps(f.kwargs, sort_keys=True, default=str)) for f in failures}
        outcomes[batch] = Outcome(
            suite=suite_name, success=not any(f.severity == "critical" for f in failures), evaluated=len(checked),
            failures=failures,
            result={"checked_with_batches": len(frames), "rows": int((prepared[BATCH_COLUMN] == batch).sum()),
                    "results": [{**c, "success": (c["expectation"], json.dumps(c["kwargs"], sort_keys=True,
                                                                               default=str)) not in failed}
                                for c in checked]})
    return outcomes


def _passed_without_rows(df: pd.DataFrame, suite_name: str, document: dict[str, Any],
                         timestamp_bounds: tuple[datetime, datetime] | None) -> Outcome | None:
    """The verdict on a batch with no rows, without asking GX, when it can only pass: every expectation judges
    rows one by one (so none can fail on zero rows) and every column it names is there (GX fails a missing one).
    None when GX must decide. A quiet night lands an empty batch for most streams, and each GX call costs ~0.2 s
    whatever its size."""
    meta = document.get("meta", {})
    checks = [*document["expectations"], *bound_expectations(document, timestamp_bounds)]
    if not all(e["type"] in ROW_LEVEL and "mostly" not in e.get("kwargs", {}) for e in checks):
        return None
    named = set(meta.get("timestamp_columns", []))
    for e in document["expectations"]:
        kwargs = e.get("kwargs", {})
        named |= {kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs}
        named |= set(kwargs.get("column_list", []))
    if not named <= set(df.columns):
        return None
    checks += [e for e in GENERIC_EXPECTATIONS if e["kwargs"]["column"] in df.columns]
    return Outcome(suite=suite_name, success=True, evaluated=len(checks), result={
        "rows": 0, "checked_without_gx": "no rows, and every expectation judges rows one by one",
        "results": [{"expectation": e["type"], "kwargs": e["kwargs"], "success": True} for e in checks]})


def _failure(item: Any, prepared: pd.DataFrame, index_columns: list[str]) -> Failure:
    details = item.result or {}
    return Failure(
        expectation=item.expectation_config.type,
        kwargs={k: v for k, v in item.expectation_config.kwargs.items() if k != "batch_id"},
        severity=(item.expectation_config.meta or {}).get("severity", "critical"),
        unexpected_count=int(details.get("unexpected_count") or 0),
        example=_example(prepared, details, index_columns),
        rule=(item.expectation_config.meta or {}).get("rule"),
    )


def _run_suite(prepared: pd.DataFrame, suite_name: str, expectations: list[dict[str, Any]],
               index_columns: list[str]) -> Any:
    """One GX validation of `prepared` (the generic expectations added), returning GX's result."""
    import great_expectations as gx

    context = _context()
    expectations = expectations + [e for e in GENERIC_EXPECTATIONS if e["kwargs"]["column"] in prepared.columns]
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
    result_format: dict[str, Any] = {"result_format": "COMPLETE", "partial_unexpected_count": 3}
    if index_columns:
        result_format["unexpected_index_column_names"] = index_columns
    return definition.get_batch(batch_parameters={"dataframe": prepared}).validate(
        suite, result_format=result_format
    )
