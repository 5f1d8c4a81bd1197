"""Jira issues are read per project (issue 23: the extract spreads over workers), with a watermark per project.

- A project added to the config after the first runs reads its own history whole. Read as one search over all
  projects from one watermark, its issues older than that watermark were never read.
- A warehouse that read Jira unpartitioned keeps its history: a project whose issues raw holds resumes from the old
  "" watermark instead of reading `history_days` again; one that raw does not hold starts at the history start.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb

from emulator.server import start_emulator
from extractors.sources import build_source
from extractors.streams import parse_timestamp
from opskpi import pipeline
from opskpi.load import ensure_meta, ensure_raw_table, stream_watermarks
from tests.reliability.runs import EMULATOR_NOW, TOKENS, context, small_config, write_config

OLD_MARK = "2026-11-10T00:00:00+00:00"


def _issues_stream(projects):
    source = build_source("jira", {"base_url": "http://unused", "email": "e", "token": "t", "projects": projects})
    return next(s for s in source.streams if s.name == "issues")


def test_a_split_stream_resumes_the_projects_raw_holds_from_the_old_watermark(tmp_path):
    stream = _issues_stream(["OPS", "WEB", "NEW"])
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ensure_meta(con)
        ensure_raw_table(con, "jira__issues", {"id": "string", "project_key": "string", "updated": "timestamp"})
        con.execute("INSERT INTO raw.jira__issues (id, project_key, updated) VALUES "
                    "('1', 'OPS', '2026-11-09'), ('2', 'WEB', '2026-11-09'), ('3', 'GONE', '2026-11-09')")
        con.execute("INSERT INTO meta.watermarks VALUES ('jira', 'issues', '', ?, 'b0', now())", [OLD_MARK])
        assert stream_watermarks(con, stream) == {"": OLD_MARK, "OPS": OLD_MARK, "WEB": OLD_MARK}
        # once a project has its own watermark, that one counts
        con.execute("INSERT INTO meta.watermarks VALUES ('jira', 'issues', 'OPS', '2026-11-19T00:00:00+00:00', "
                    "'b1', now())")
        assert stream_watermarks(con, stream)["OPS"] == "2026-11-19T00:00:00+00:00"
        # without the old watermark nothing is inherited (a first run; a warehouse partitioned from the start)
        con.execute("DELETE FROM meta.watermarks WHERE partition_id = ''")
        assert stream_watermarks(con, stream) == {"OPS": "2026-11-19T00:00:00+00:00"}


def test_a_stream_that_was_never_unpartitioned_inherits_nothing(tmp_path):
    pulls = next(s for s in build_source("github", {"base_url": "http://unused", "token": "t",
                                                    "repos": ["acme/api"]}).streams if s.name == "pulls")
    assert pulls.partition_column is None
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ensure_meta(con)
        con.execute("INSERT INTO meta.watermarks VALUES ('github', 'pulls', '', ?, 'b0', now())", [OLD_MARK])
        assert stream_watermarks(con, pulls) == {"": OLD_MARK}


def test_a_project_added_later_reads_its_whole_history(tmp_path, monkeypatch):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    with start_emulator(seed=7, now=EMULATOR_NOW, profile="stress") as emu:
        raw = small_config(tmp_path / "data", emu.base_url, sources=("jira",))
        config = write_config(tmp_path / "config.yml", raw)
        ctx = context(config, "ops-only")
        pipeline.extract(config, "jira", ctx)
        pipeline.validate(config, "jira", ctx)
        pipeline.load(config, ctx)

        raw["sources"]["jira"]["projects"] = ["OPS", "WEB"]
        config = write_config(tmp_path / "config.yml", raw)
        ctx = context(config, "web-added")
        streams = [s for s in build_source("jira", config.source_settings("jira")).streams if s.name == "issues"]
        windows = pipeline.extract_inputs(config, "jira", streams, ctx)["windows"]["issues"]
        assert windows["OPS"].resumed and not windows["WEB"].resumed
        assert windows["WEB"].start == pipeline.history_start(config, "jira", "issues", ctx)
        pipeline.extract(config, "jira", ctx)
        pipeline.validate(config, "jira", ctx)
        pipeline.load(config, ctx)

    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        marks = dict(con.execute("SELECT partition_id, cursor_value FROM meta.watermarks "
                                 "WHERE source = 'jira' AND stream = 'issues'").fetchall())
        web_updated = [u for (u,) in con.execute(
            "SELECT updated FROM raw.jira__issues WHERE project_key = 'WEB'").fetchall()]
    assert set(marks) == {"OPS", "WEB"}
    # WEB issues last updated before the OPS watermark minus the lookback: the old single search would have missed
    # every one of them
    ops_resume = parse_timestamp(marks["OPS"]) - timedelta(seconds=config.lookback_seconds("jira"))
    assert [u for u in web_updated if u < ops_resume], "the demo holds WEB issues untouched since long before"


def _config(tmp_path, extract_tasks: int | None = None, **jira):
    raw = small_config(tmp_path / "data", "http://127.0.0.1:1")
    raw["sources"]["jira"].update(jira)
    raw["sources"]["github"]["repos"] = [f"acme/r{i}" for i in range(5)]
    if extract_tasks is not None:
        for source in raw["sources"].values():
            source["extract_tasks"] = extract_tasks
    return write_config(tmp_path / "config.yml", raw)


def test_partitions_share_extract_tasks_beyond_the_limit(tmp_path):
    """Each Airflow task costs seconds of start-up: 500 repositories must not be 500 tasks."""
    assert pipeline.extract_tasks(_config(tmp_path, projects=["PA", "PB"]), "jira") == [[""], ["PA"], ["PB"]]
    config = _config(tmp_path, extract_tasks=3, projects=["PA", "PB", "PC", "PD", "PE"])
    # the source-wide streams keep a task of their own; the projects are dealt over the other two
    assert pipeline.extract_tasks(config, "jira") == [[""], ["PA", "PC", "PE"], ["PB", "PD"]]
    assert pipeline.extract_tasks(config, "github") == [["acme/r0", "acme/r3"], ["acme/r1", "acme/r4"], ["acme/r2"]]
    assert pipeline.extract_tasks(config, "pagerduty") == [[""]]
    assert [pipeline.partition_label("jira", t) for t in pipeline.extract_tasks(config, "jira")] == [
        "jira", "PA and 2 more", "PB and 1 more"]


def test_a_task_of_several_projects_lands_what_a_task_each_lands(tmp_path, monkeypatch):
    """The same emulator read as one task per project and as one task for both: the same issues and changelogs
    in raw, and a watermark per project either way."""
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    loaded = {}
    with start_emulator(seed=7, now=EMULATOR_NOW, profile="stress") as emu:
        for label, tasks in (("each", None), ("shared", 2)):
            raw = small_config(tmp_path / label / "data", emu.base_url, sources=("jira",))
            raw["sources"]["jira"]["projects"] = ["OPS", "WEB"]
            if tasks is not None:
                raw["sources"]["jira"]["extract_tasks"] = tasks
            (tmp_path / label).mkdir()
            config = write_config(tmp_path / label / "config.yml", raw)
            ctx = context(config, label)
            groups = pipeline.extract_tasks(config, "jira")
            assert len(groups) == (3 if tasks is None else 2), groups
            for group in groups:
                pipeline.extract(config, "jira", ctx, partition=group)
            pipeline.validate(config, "jira", ctx)
            pipeline.load(config, ctx)
            with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
                loaded[label] = (
                    con.execute("SELECT id, project_key, updated FROM raw.jira__issues ORDER BY id").fetchall(),
                    con.execute("SELECT issue_id, id FROM raw.jira__issue_changelogs ORDER BY 1, 2").fetchall(),
                    con.execute("SELECT partition_id, cursor_value FROM meta.watermarks WHERE stream = 'issues' "
                                "ORDER BY 1").fetchall())
    assert loaded["each"] == loaded["shared"]
    issues, changelogs, marks = loaded["shared"]
    assert {p for _, p, _ in issues} == {"OPS", "WEB"} and changelogs and [p for p, _ in marks] == ["OPS", "WEB"]
