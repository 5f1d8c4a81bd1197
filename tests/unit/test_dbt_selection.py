"""Slim dbt builds (opskpi/dbt_selection.py): which nodes a nightly build selects, without running dbt.

A warehouse with two API raw tables, a config mapping and a meta table; a manifest naming them as dbt sources. After
a recorded build, a night with nothing loaded selects only the every-run models; a load that merges a record (new
`_loaded_at`), a rewritten but equal config mapping, a changed mapping and a deleted row each select exactly the
sources they touch; a changed var, a changed project file or a full refresh build every node.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from opskpi import dbt_selection as sel

VARS = {"reporting_timezone": "UTC"}


@pytest.fixture
def warehouse():
    con = duckdb.connect()
    con.execute("create schema raw; create schema meta")
    con.execute("create table raw.jira__issues (id varchar, record varchar, _loaded_at timestamptz)")
    con.execute("insert into raw.jira__issues values ('1', '{}', timestamptz '2026-11-19 06:00:00+00'), "
                "('2', '{}', timestamptz '2026-11-19 06:00:00+00')")
    con.execute("create table raw.pagerduty__incidents (id varchar, _loaded_at timestamptz)")
    con.execute("insert into raw.pagerduty__incidents values ('P1', timestamptz '2026-11-19 06:00:00+00')")
    con.execute("create table raw.config__repos (repo varchar, team varchar)")
    con.execute("insert into raw.config__repos values ('acme/api', 'platform'), ('acme/web', 'growth')")
    con.execute("create table meta.batches (batch_id varchar, run_id varchar)")
    yield con
    con.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "dbt_project"
    (root / "models").mkdir(parents=True)
    (root / "models" / "a.sql").write_text("select 1")
    (root / "target").mkdir()  # not part of the code checksum
    (root / "target" / "manifest.json").write_text(json.dumps({"sources": {
        "source.opskpi.jira.issues": {"source_name": "jira", "name": "issues", "schema": "raw",
                                      "identifier": "jira__issues"},
        "source.opskpi.pagerduty.incidents": {"source_name": "pagerduty", "name": "incidents", "schema": "raw",
                                              "identifier": "pagerduty__incidents"},
        "source.opskpi.config.repos": {"source_name": "config", "name": "repos", "schema": "raw",
                                       "identifier": "config__repos"},
        "source.opskpi.meta.batches": {"source_name": "meta", "name": "batches", "schema": "meta",
                                       "identifier": None},
    }}))
    return root


def built(con, project: Path, dbt_vars=VARS, full_refresh=False) -> sel.BuildPlan:
    """Plan, then record as a successful build does."""
    plan = sel.plan(con, project, dbt_vars, full_refresh=full_refresh)
    sel.record(con, plan, project / "target" / "manifest.json", "run")
    return plan


def test_the_first_build_builds_everything_and_a_night_without_data_only_the_every_run_models(warehouse, project):
    first = built(warehouse, project)
    assert first.select is None and "no state" in first.reason and not first.refresh  # no table to refresh yet
    # a load rewrites the config mapping with the same rows: nothing to rebuild but the run's own models
    warehouse.execute("delete from raw.config__repos")
    warehouse.execute("insert into raw.config__repos values ('acme/web', 'growth'), ('acme/api', 'platform')")
    assert sel.plan(warehouse, project, VARS).select == ["tag:every_run+"]


def test_each_change_selects_the_sources_it_touches(warehouse, project):
    built(warehouse, project)
    # the loader merges a changed issue: a new _loaded_at
    warehouse.execute("update raw.jira__issues set record = '{\"x\": 1}', _loaded_at = timestamptz "
                      "'2026-11-20 06:00:00+00' where id = '2'")
    assert sel.plan(warehouse, project, VARS).select == ["tag:every_run+", "source:jira.issues+"]
    built(warehouse, project)
    warehouse.execute("update raw.config__repos set team = 'payments' where repo = 'acme/web'")
    warehouse.execute("insert into meta.batches values ('b1', 'run')")
    assert sel.plan(warehouse, project, VARS).select == ["tag:every_run+", "source:meta.batches+",
                                                         "source:config.repos+"]
    built(warehouse, project)
    warehouse.execute("delete from raw.pagerduty__incidents")  # a row gone, newest _loaded_at gone with it
    assert sel.plan(warehouse, project, VARS).select == ["tag:every_run+", "source:pagerduty.incidents+"]


def test_a_changed_var_project_file_or_full_refresh_builds_everything(warehouse, project):
    built(warehouse, project)
    changed_vars = sel.plan(warehouse, project, {"reporting_timezone": "Europe/Paris"})
    assert changed_vars.select is None and changed_vars.refresh, "changed code or vars rebuild incrementals whole"
    assert sel.plan(warehouse, project, VARS, full_refresh=True).select is None
    (project / "target" / "run_results.json").write_text("{}")  # dbt's output is not code
    assert sel.plan(warehouse, project, VARS).select == ["tag:every_run+"]
    (project / "models" / "a.sql").write_text("select 2")
    plan = sel.plan(warehouse, project, VARS)
    assert plan.select is None and "changed" in plan.reason and plan.refresh


def test_a_build_that_is_not_recorded_leaves_the_older_state(warehouse, project):
    """A failed (or test-less) build records nothing: the next one compares with the last good build."""
    built(warehouse, project)
    warehouse.execute("update raw.jira__issues set _loaded_at = timestamptz '2026-11-20 06:00:00+00'")
    sel.plan(warehouse, project, VARS)  # planned, dbt failed: not recorded
    assert sel.plan(warehouse, project, VARS).select == ["tag:every_run+", "source:jira.issues+"]


def test_the_docs_page_is_made_again_only_when_its_inputs_change(make_config, monkeypatch, tmp_path):
    """`dbt docs generate` runs on the first build, not on a build that changed neither the project, the vars nor
    the warehouse's schema (the page is kept, or copied from another data directory that made it), and again when
    a column appears or the vars change."""
    import subprocess
    from datetime import UTC, date, datetime

    import duckdb

    from opskpi import pipeline

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = make_config()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(config.warehouse_path)) as con:
        con.execute("create schema marts; create table marts.m (day date, value double)")
    ctx = pipeline.RunContext.for_date(config, date(2024, 1, 2), "r1", now=datetime(2024, 1, 3, tzinfo=UTC))
    runs = []

    def fake_dbt(command, **kwargs):
        runs.append(command)
        page = pipeline._docs_page(config)
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<html>docs {len(runs)}</html>")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(pipeline.subprocess, "run", fake_dbt)
    env: dict[str, str] = {}
    assert pipeline._generate_docs(config, ctx, env) and len(runs) == 1
    assert pipeline._generate_docs(config, ctx, env) and len(runs) == 1, "nothing changed: the page is kept"
    assert pipeline._docs_page(config).read_text() == "<html>docs 1</html>"
    # Another data directory of the install, with the same project, vars and schema: the page is copied.
    other = make_config(data_dir="other")
    other.data_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(other.warehouse_path)) as con:
        con.execute("create schema marts; create table marts.m (day date, value double)")
    assert pipeline._generate_docs(other, ctx, env) and len(runs) == 1, "made elsewhere from the same inputs"
    assert pipeline._docs_page(other).read_text() == "<html>docs 1</html>"
    assert len(list((tmp_path / "cache" / "opskpi" / "dbt-docs").glob("*.html"))) == 1
    with duckdb.connect(str(config.warehouse_path)) as con:
        con.execute("alter table marts.m add column sample_size integer")
    assert pipeline._generate_docs(config, ctx, env) and len(runs) == 2, "a new column: made again"
    assert pipeline._generate_docs(config, ctx, env) and len(runs) == 2
    monkeypatch.setattr(pipeline.RunContext, "dbt_vars", lambda self, cfg: {"reporting_timezone": "Europe/Berlin"})
    assert pipeline._generate_docs(config, ctx, env) and len(runs) == 3, "other vars: made again"

    def failing_dbt(command, **kwargs):
        runs.append(command)
        return subprocess.CompletedProcess(command, 2, "boom", "")

    monkeypatch.setattr(pipeline.subprocess, "run", failing_dbt)
    with duckdb.connect(str(config.warehouse_path)) as con:
        con.execute("alter table marts.m add column extra integer")
    assert not pipeline._generate_docs(config, ctx, env) and len(runs) == 4
    assert not pipeline._docs_page(config).exists(), "an older page is never kept for a changed schema"
