"""The JQL subset on its own: parsing, date literals in the user's zone, evaluation, errors."""

from __future__ import annotations

import datetime as dt

import pytest

from emulator import jql
from emulator.timefmt import DAY, parse_iso, zone

NOW = parse_iso("2026-11-20T06:00:00Z")
LA = zone("America/Los_Angeles")

ROWS = [
    {
        "key": ("OPS", 1, 10001),
        "project": ("ops", "operations", "10000"),
        "updated": NOW - 3 * DAY,
        "labels": ("backend",),
        "status": ("done", "10002"),
        "summary": "Fix login",
    },
    {
        "key": ("OPS", 2, 10002),
        "project": ("ops", "operations", "10000"),
        "updated": NOW - DAY,
        "labels": (),
        "status": ("to do", "10000"),
        "summary": "Add dashboards",
    },
    {
        "key": ("WEB", 7, 10003),
        "project": ("web", "web platform", "10001"),
        "updated": NOW,
        "labels": ("frontend", "p1"),
        "status": ("in progress", "3"),
        "summary": "Login page",
    },
]


def ctx() -> jql.Context:
    fields = {
        "key": jql.FieldSpec("key", lambda r: r["key"]),
        "project": jql.FieldSpec(
            "enum",
            lambda r: r["project"],
            frozenset({"ops", "web", "operations", "web platform", "10000", "10001"}),
        ),
        "updated": jql.FieldSpec("date", lambda r: r["updated"]),
        "labels": jql.FieldSpec("multi", lambda r: r["labels"]),
        "status": jql.FieldSpec(
            "enum", lambda r: r["status"], frozenset({"done", "to do", "in progress", "10000", "10002", "3"})
        ),
        "summary": jql.FieldSpec("text", lambda r: r["summary"], sortable=False),
    }
    return jql.Context(fields, NOW, LA)


def run(text: str) -> list[str]:
    c = ctx()
    q = jql.parse(text)
    keep = jql.predicate(q.where, c) if q.where is not None else (lambda r: True)
    return [f"{r['key'][0]}-{r['key'][1]}" for r in jql.sort_rows([r for r in ROWS if keep(r)], q.order, c)]


def test_and_binds_tighter_than_or_and_parentheses():
    assert run("project = WEB OR project = OPS AND status = Done ORDER BY key") == ["OPS-1", "WEB-7"]
    assert run("(project = WEB OR project = OPS) AND status != Done ORDER BY key") == ["OPS-2", "WEB-7"]
    assert run("NOT project = OPS") == ["WEB-7"]


def test_in_lists_keys_labels_and_empty():
    assert run("project in (ops, WEB) order by key desc") == ["WEB-7", "OPS-2", "OPS-1"]
    assert run('key in (OPS-2, "WEB-7") ORDER BY key ASC') == ["OPS-2", "WEB-7"]
    assert run("labels = p1") == ["WEB-7"]
    assert run("labels is EMPTY") == ["OPS-2"]
    assert run("labels != EMPTY ORDER BY key") == ["OPS-1", "WEB-7"]
    assert run("key > OPS-1") == ["OPS-2"]
    assert run("summary ~ login ORDER BY key") == ["OPS-1", "WEB-7"]


def test_date_literals():
    ms = NOW - 2 * DAY
    assert run(f"updated >= {ms} ORDER BY updated ASC") == ["OPS-2", "WEB-7"]
    assert run("updated >= -2d ORDER BY updated DESC") == ["WEB-7", "OPS-2"]
    assert run("updated < -1w") == []
    assert run("updated >= startOfDay() ") == ["WEB-7"]
    c = ctx()
    # Quoted wall times are read in the user's zone (Los Angeles, UTC-8 in November).
    expected = int(dt.datetime(2026, 11, 17, 14, tzinfo=dt.UTC).timestamp() * 1000)
    for text in ("2026/11/17 06:00", "2026-11-17 06:00"):
        assert jql.date_value(jql.Value("string", text), "updated", c) == expected
    assert jql.date_value(jql.Value("string", "2026-11-17"), "updated", c) == expected - 6 * 3600 * 1000
    assert jql.date_value(jql.Value("word", "-4w 2d"), "updated", c) == NOW - 30 * DAY


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("project = ", "Expecting either a value"),
        ("project == OPS", "Expecting either a value"),
        ("project OPS", "Expecting operator"),
        ("nosuch = 1", "does not exist"),
        ("project = NOPE", "does not exist for the field 'project'"),
        ('updated > "tomorrow-ish"', "Date value"),
        ("summary = x", "not supported"),
        ("project = OPS ORDER BY summary", "Not able to sort"),
        ('project = "OPS', "has not been completed"),
        ("project = OPS) ", "Expecting either 'OR' or 'AND'"),
    ],
)
def test_errors_read_like_jira(text, fragment):
    with pytest.raises(jql.JqlError, match=fragment):
        run(text)
