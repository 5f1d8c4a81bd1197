"""Every declared stream has a suite, and the suite guards what the declaration promises."""

from __future__ import annotations

import pytest

from expectations.runner import load_suite_document
from extractors.sources import build_source

SETTINGS = {"base_url": "http://x", "email": "e", "projects": ["P"], "repos": ["o/r"], "token": "t"}
STREAMS = [s for name in ("jira", "pagerduty", "github") for s in build_source(name, SETTINGS).streams]


@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s.key)
def test_suite_covers_the_declaration(stream):
    suite = load_suite_document(stream.key)
    by_type: dict[str, list[dict]] = {}
    for expectation in suite["expectations"]:
        by_type.setdefault(expectation["type"], []).append(expectation["kwargs"])
    not_null = {k["column"] for k in by_type.get("expect_column_values_to_not_be_null", [])}
    assert set(stream.primary_key) <= not_null, "primary key columns must be required"
    unique = [k["column_list"] for k in by_type.get("expect_compound_columns_to_be_unique", [])]
    assert list(stream.primary_key) + ["_page"] in unique, "the key must be unique within a page"
    regex = {k["column"] for k in by_type.get("expect_column_values_to_match_regex", [])}
    assert set(stream.timestamps) <= regex, "every timestamp column must be checked"
    assert set(suite["meta"]["timestamp_columns"]) == set(stream.timestamps)
    # Bounded below by the history start - 1 year: only columns the read window selects on (expectations/runner.py).
    assert set(suite["meta"].get("window_columns", [])) <= set(stream.timestamps)
    ordered = by_type.get("expect_column_pair_values_a_to_be_greater_than_b", [])
    pairs = {(k["column_B"], k["column_A"]) for k in ordered}
    assert {(f"{a}__utc", f"{b}__utc") for a, b in stream.ordered} <= pairs
    for expectation in suite["expectations"]:
        assert expectation["meta"]["severity"] in ("critical", "warning")
