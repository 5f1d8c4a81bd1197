"""The PagerDuty incident alerts stream (issue 21 §1, time to detect) against the strict emulator.

Extract → validate → load of the PagerDuty source, twice (the second run a day later): alerts are read per incident
the run lists, never for one whose `alert_counts.all` is 0, in pages (page size 2: incidents with 3 and 5 alerts
take several), every alert of every incident read lands once; on the next run the incidents still open are read
again, resolved ones already read after their resolution are not (meta.child_versions), and an alert grouped into
an incident after the first run arrives with the second. The emulator's planted merge moves the source incident's
alert to its target.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import requests

from emulator.server import start_emulator
from extractors.landing import read_manifest
from extractors.sources.pagerduty import alert_parent_ref
from opskpi import pipeline
from tests.reliability.runs import EMULATOR_NOW, RUN_DATE, TOKENS, small_config, write_config

HEADERS = {"Authorization": "Token token=pd-demo-token", "Accept": "application/vnd.pagerduty+json;version=2"}


def _incidents(base: str) -> list[dict]:
    out, offset = [], 0
    while True:
        body = requests.get(f"{base}/incidents", headers=HEADERS, timeout=10,
                            params={"date_range": "all", "limit": 100, "offset": offset}).json()
        out += body["incidents"]
        if not body["more"]:
            return out
        offset += 100


def _alert_requests(base_url: str) -> int:
    stats = requests.get(f"{base_url}/__emulator/stats", timeout=10).json()
    return sum(n for route, n in stats.get("pagerduty", {}).items() if route.endswith("/alerts"))


def test_parent_ref_skips_incidents_without_alerts_and_versions_only_resolved_ones():
    assert alert_parent_ref({"id": "Q1", "alert_counts": {"all": 0}}) is None
    assert alert_parent_ref({"id": "Q1", "status": "triggered", "alert_counts": {"all": 2}}) == {
        "incident_id": "Q1", "incident_version": ""}  # open: read on every run
    resolved = {"id": "Q1", "status": "resolved", "resolved_at": "2026-11-19T10:00:00Z", "alert_counts": {"all": 2}}
    assert alert_parent_ref(resolved)["incident_version"] == "resolved 2026-11-19T10:00:00Z alerts 2"
    # no alert_counts (an older payload): read, never skipped on a guess
    assert alert_parent_ref({"id": "Q1", "status": "resolved"})["incident_version"] == ""


def test_alerts_are_read_per_incident_skipping_empty_ones_and_reread_while_open(tmp_path, monkeypatch):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    with start_emulator(seed=7, now=EMULATOR_NOW, profile="stress") as emu:
        config = write_config(tmp_path / "config.yml", small_config(
            tmp_path / "data", emu.base_url, sources=("pagerduty",), history_days=30, page_size=2))
        first = pipeline.RunContext.for_date(config, RUN_DATE, "alerts-1",
                                             now=datetime(2026, 11, 20, 6, tzinfo=UTC))
        requests.post(f"{emu.base_url}/__emulator/reset-stats", timeout=10)
        extracted = pipeline.extract(config, "pagerduty", first)
        pipeline.validate(config, "pagerduty", first)
        pipeline.load(config, first)
        listed = {i["id"]: i for i in _incidents(emu.pagerduty_url)
                  if i["created_at"] >= (first.as_of - timedelta(days=40)).strftime("%Y-%m-%d")}
        with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
            loaded = {r[0] for r in con.execute("select id from raw.pagerduty__incidents").fetchall()}
            alerts = con.execute("select incident_id, count(*) from raw.pagerduty__incident_alerts "
                                 "group by 1").fetchall()
        with_alerts = {i for i in loaded if listed.get(i, {}).get("alert_counts", {}).get("all", 0) > 0}
        empty = {i for i in loaded if i in listed and listed[i]["alert_counts"]["all"] == 0}
        per_incident = dict(alerts)
        assert empty and not empty & set(per_incident)  # alert_counts.all = 0: never asked
        assert with_alerts <= set(per_incident)
        for incident_id in with_alerts:  # every page of every incident landed
            assert per_incident[incident_id] == listed[incident_id]["alert_counts"]["all"], incident_id
        paged = sum(-(-listed[i]["alert_counts"]["all"] // 2) for i in with_alerts)
        assert extracted["pagerduty__incident_alerts"]["rows"] == sum(per_incident.values())
        assert _alert_requests(emu.base_url) == paged  # one request per page of 2, none for empty incidents
        merged = [i for i in listed.values() if (i.get("resolve_reason") or {}).get("type") == "merge_resolve_reason"]
        assert len(merged) == 1 and merged[0]["id"] not in per_incident  # its alert moved to the target
        target = merged[0]["resolve_reason"]["incident"]["id"]
        assert per_incident.get(target) == 2

        # a day later: open incidents are read again, resolved ones read since their resolution are not
        emu.advance(days=1)
        requests.post(f"{emu.base_url}/__emulator/reset-stats", timeout=10)
        second = pipeline.RunContext.for_date(config, RUN_DATE + timedelta(days=1), "alerts-2",
                                              now=datetime(2026, 11, 21, 6, tzinfo=UTC))
        again = pipeline.extract(config, "pagerduty", second)
        pipeline.validate(config, "pagerduty", second)
        pipeline.load(config, second)
        now_listed = {i["id"]: i for i in _incidents(emu.pagerduty_url)}
        batch = again["pagerduty__incident_alerts"]["batch"]
        manifest = read_manifest(config.landing_dir / "pagerduty" / "incident_alerts" / batch)
        open_before = {i for i in with_alerts if listed[i]["status"] != "resolved"}
        assert open_before and manifest["requests"] >= len(open_before)
        assert manifest["skipped_unchanged_parents"] > 0
        with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
            after = dict(con.execute("select incident_id, count(*) from raw.pagerduty__incident_alerts "
                                     "group by 1").fetchall())
        for incident_id in open_before:  # re-read while open: grouped alerts that arrived since are in
            assert after[incident_id] == now_listed[incident_id]["alert_counts"]["all"], incident_id
