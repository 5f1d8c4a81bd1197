"""A PagerDuty account without the Teams feature (`/teams` answers 402) runs on without teams (issue 17, item 4).

Extract → validate → load of the PagerDuty source against the strict emulator started with the no-teams plan:
every other stream loads, the teams partition is recorded once as `not_enabled` with PagerDuty's 402 and
message (meta.stream_coverage, and one warning in the run's log), and no team row is invented.
"""

from __future__ import annotations

import logging

import duckdb

from emulator.server import start_emulator
from opskpi import pipeline
from tests.reliability.runs import EMULATOR_NOW, TOKENS, context, small_config, write_config


def test_a_402_on_teams_is_said_once_and_the_run_goes_on(tmp_path, monkeypatch, caplog):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.INFO)
    with start_emulator(seed=7, now=EMULATOR_NOW, pagerduty_no_teams=True, profile="stress") as emu:
        config = write_config(tmp_path / "config.yml",
                              small_config(tmp_path / "data", emu.base_url, sources=("pagerduty",)))
        ctx = context(config, "no-teams")
        extracted = pipeline.extract(config, "pagerduty", ctx)
        pipeline.validate(config, "pagerduty", ctx)
        pipeline.load(config, ctx)
    assert extracted["pagerduty__teams"]["rows"] == 0
    assert extracted["pagerduty__incidents"]["rows"] > 0 and extracted["pagerduty__services"]["rows"] > 0
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        coverage = con.execute("SELECT stream, status, status_code, message FROM meta.stream_coverage "
                               "WHERE source = 'pagerduty' AND status <> 'ok'").fetchall()
        teams = con.execute("SELECT count(*) FROM raw.pagerduty__teams").fetchone()[0]
        incidents = con.execute("SELECT count(*) FROM raw.pagerduty__incidents").fetchone()[0]
    assert coverage == [("teams", "not_enabled", 402, "Payment Required")]
    assert teams == 0 and 0 < incidents <= extracted["pagerduty__incidents"]["rows"]  # less: read twice (open)
    said = [r for r in caplog.records if "pagerduty__teams" in r.getMessage() and "not enabled" in r.getMessage()]
    assert len(said) == 1 and "HTTP 402" in said[0].getMessage()
