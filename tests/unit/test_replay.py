"""`opskpi replay`: a quarantined batch goes back through the guard once the cause is fixed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest
import yaml

from expectations import runner
from extractors.landing import LandingWriter, new_batch_id
from extractors.sources import build_source
from extractors.streams import Partition
from opskpi import cli, pipeline
from opskpi.config import load_config
from tests.conftest import config_dict

PAIR_RULE = "expect_column_pair_values_a_to_be_greater_than_b"


def incident(id_, created, resolved):
    return {"id": id_, "status": "resolved", "urgency": "high", "service": {"id": "PSVC1"},
            "created_at": created, "updated_at": resolved, "resolved_at": resolved}


@pytest.fixture
def quarantined(tmp_path, monkeypatch):
    """A config file, and a batch the guard quarantined (B resolved a minute before it was created)."""
    for name in ("TEST_JIRA_TOKEN", "TEST_PD_TOKEN", "TEST_GH_TOKEN"):
        monkeypatch.setenv(name, "x" * 8)
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config_dict(data_dir=str(tmp_path / "data"))))
    config = load_config(path)
    stream = build_source("pagerduty", config.source_settings("pagerduty", with_secret=False)).stream("incidents")
    writer = LandingWriter(config.landing_dir, stream, new_batch_id())
    # Yesterday's records: a replay is judged by today's timestamp bounds (history start - 1 year .. tomorrow).
    day = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    writer.add(incident("A", f"{day}T10:00:00Z", f"{day}T11:00:00Z"), Partition(""), 1)
    writer.add(incident("B", f"{day}T10:00:00Z", f"{day}T09:59:00Z"), Partition(""), 1)
    batch = writer.commit({"run_id": "nightly"})
    ctx = pipeline.RunContext.for_date(config, date(2024, 1, 2), "nightly")
    with pytest.raises(pipeline.GuardFailure):
        pipeline.validate(config, "pagerduty", ctx)
    target = config.quarantine_dir / "pagerduty" / "incidents" / batch.name
    assert target.exists()
    return path, config, target


def raw_ids(config) -> list[str]:
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        return [r[0] for r in con.execute("SELECT id FROM raw.pagerduty__incidents ORDER BY id").fetchall()]


def test_replay_after_a_fix_validates_and_loads_the_batch(quarantined, monkeypatch, capsys):
    path, config, batch = quarantined
    original = runner.load_suite_document

    def relaxed(name):  # the fix: say the ordering rule was wrong for this stream
        document = original(name)
        return {**document, "expectations": [e for e in document["expectations"] if e["type"] != PAIR_RULE]}

    monkeypatch.setattr(runner, "load_suite_document", relaxed)
    code = cli.main(["replay", "--config", str(path), "--batch", str(batch)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "replayed pagerduty__incidents batch" in out and "2 records loaded" in out
    assert raw_ids(config) == ["A", "B"]
    landed = config.landing_dir / "pagerduty" / "incidents" / batch.name
    assert not batch.exists() and json.loads((landed / "_validation.json").read_text())["success"] is True
    assert len(list(landed.glob("_validation.*.rejected.json"))) == 1, "the earlier verdict is kept"
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT run_id FROM meta.batches").fetchall() == [("nightly",)]


def test_replay_without_a_fix_sends_the_batch_back_to_quarantine(quarantined, capsys):
    path, config, batch = quarantined
    code = cli.main(["replay", "--config", str(path), "--batch", str(batch)])
    err = capsys.readouterr().err
    assert code == 1
    assert "failed again and is back in quarantine" in err and PAIR_RULE in err and '"id": "B"' in err
    assert batch.exists() and len(list(batch.glob("_validation.*.rejected.json"))) == 1
    assert not (config.landing_dir / "pagerduty" / "incidents" / batch.name).exists()


def test_replay_refuses_what_is_not_a_quarantined_batch(quarantined, tmp_path, capsys):
    path, _, _ = quarantined
    assert cli.main(["replay", "--config", str(path), "--batch", str(tmp_path)]) == 2
    assert "--batch:" in capsys.readouterr().err
