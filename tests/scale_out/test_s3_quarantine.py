"""Quarantine and replay with the landing zone on an object store (moto's S3 server): a batch the guard refuses
moves to the quarantine prefix beside the landing prefix (copied with its manifest last, then removed from
landing), is never loaded, and `opskpi replay --batch s3://…` brings it back once the rule is fixed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import yaml

from expectations import runner
from extractors.landing import LandingWriter, complete_batches, new_batch_id
from extractors.sources import build_source
from extractors.streams import Partition
from opskpi import cli, pipeline
from opskpi.config import load_config
from tests.conftest import config_dict
from tests.unit.test_replay import PAIR_RULE, incident, raw_ids

pytestmark = [pytest.mark.scale_out]


def test_a_refused_batch_is_quarantined_on_the_store_and_replayed_from_it(tmp_path, monkeypatch, capsys, bucket,
                                                                          moto_endpoint):
    for name in ("TEST_JIRA_TOKEN", "TEST_PD_TOKEN", "TEST_GH_TOKEN"):
        monkeypatch.setenv(name, "x" * 8)
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config_dict(
        data_dir=str(tmp_path / "data"),
        landing={"url": f"s3://{bucket}/ops/landing", "endpoint_url": moto_endpoint})))
    config = load_config(path)
    assert str(config.quarantine_dir) == f"s3://{bucket}/ops/quarantine"
    stream = build_source("pagerduty", config.source_settings("pagerduty", with_secret=False)).stream("incidents")
    writer = LandingWriter(config.landing_dir, stream, new_batch_id())
    day = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    writer.add(incident("A", f"{day}T10:00:00Z", f"{day}T11:00:00Z"), Partition(""), 1)
    writer.add(incident("B", f"{day}T10:00:00Z", f"{day}T09:59:00Z"), Partition(""), 1)  # resolved before created
    batch = writer.commit({"run_id": "nightly"})
    ctx = pipeline.RunContext.for_date(config, date(2024, 1, 2), "nightly")
    with pytest.raises(pipeline.GuardFailure, match=f"quarantined to s3://{bucket}/ops/quarantine/"):
        pipeline.validate(config, "pagerduty", ctx)
    quarantined = config.quarantine_dir / "pagerduty" / "incidents" / batch.name
    assert complete_batches(config.landing_dir, "pagerduty", "incidents") == []
    assert not batch.fs.find(batch.path), "nothing of the batch is left in landing"
    assert sorted(p.name for p in quarantined.iterdir()) == ["_manifest.json", "_validation.json",
                                                             "part-00000.parquet"]
    pipeline.load(config, ctx)
    assert raw_ids(config) == []

    original = runner.load_suite_document
    monkeypatch.setattr(runner, "load_suite_document", lambda name: {  # the fix: the ordering rule was wrong here
        **original(name), "expectations": [e for e in original(name)["expectations"] if e["type"] != PAIR_RULE]})
    code = cli.main(["replay", "--config", str(path), "--batch", str(quarantined)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert raw_ids(config) == ["A", "B"]
    landed = config.landing_dir / "pagerduty" / "incidents" / batch.name
    assert not quarantined.fs.find(quarantined.path)
    assert json.loads((landed / "_validation.json").read_text())["success"] is True
    assert len([p for p in landed.iterdir() if p.name.endswith(".rejected.json")]) == 1, "the old verdict is kept"
