"""Time to detect (dbt, issue 21 §1): fct_incident_detection, mart_detection_daily and the snapshot's detection area on
hand-built PagerDuty incidents, alerts and log entries; every expected number is worked out by hand below.
Change detection (contract §1 (a)) is checked on the DORA scenario's build (test_dbt_dora.py).

Reporting time zone UTC. Services PSVC1 (team platform) and PSVC2 (team growth). Night 1: run_date 03-10, as_of
03-11 00:00. Night 2 (run_date 03-12, as_of 03-13 00:00) loads more. The backfill rebuilds 03-10 (as_of 03-11 00:00)
on a copy of night 2's warehouse.

  03-02  contract case 1: C1 created 10:00, alerts stamped 09:50 (received 10:00) and 09:40 (grouped in at 10:05):
         impact 09:40, delay 1,200 s. G1 (PSVC2) created 11:00, stamped 10:30: 1,800 s.
         -> PSVC1 1,200 (n 1); team growth 1,800; org mean 1,500, p50 1,500, p90 1,200 + 0.9 x 600 = 1,740 (n 2).
  03-03  case 2: S created 09:30 (alert 09:29) merged into T (created 10:00, alert 09:58) at 10:10. T detected
         09:30, impact 09:29: 60 s; S not eligible -> 1 eligible.
  03-04  case 3: X1 created 10:00 stamped 10:03: clamped, delay 0. X2 created 10:00 stamped 10:20 (20 min > 5 min):
         invalid, unknown. -> eligible 2, sample 1, mean 0, coverage 50 %, clamped 1, invalid 1.
  03-05  case 4: E1 an e-mail alert (cef_details null), triggered by its e-mail integration; W1 web_trigger by a
         person, alert_counts.all 0. -> no sample: MTTD NULL, sample 0, coverage 0 %, monitoring 50 %.
  03-07  case 6: N created 00:10, stamped 03-06 23:50: 1,200 s on 03-07 (03-06 has nothing).
  03-08  L1 created 10:00 (alert_counts.all 1), its alert (stamped 09:55) not loaded on night 1: unknown; loaded on
         night 2 (late): 300 s. P1 created 12:00: a stamp without an offset ("2026-03-08 11:00:00") and a suppressed
         alert stamped 11:00Z: no stamp, unknown. Night 1: eligible 2, sample 0; night 2: sample 1, coverage 50 %.
  03-09  M1 created 09:00 (alert 08:59) and M2 created 10:00 (alert 09:50); night 1 reads both (60 s, 600 s). On
         03-12 08:00 M1 is merged into M2: night 2 reads M1 resolved by the merge (alert_counts 0) and M2 holding
         both alerts: M2 detected 09:00, impact 08:59: 60 s, 1 eligible. The backfill of 03-10 (as_of 03-11) sees no
         merge yet: M1 60 s and M2 600 s again, as night 1 did.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.integration import dbt_harness as h

pytestmark = pytest.mark.skipif(not h.dbt_executable().exists(), reason="dbt is not installed in this venv")

SVC1, SVC2 = ("PSVC1", "api-gateway"), ("PSVC2", "web-frontend")
NIGHT1 = {"run_date": "2026-03-10", "as_of": "2026-03-11T00:00:00Z", "reporting_timezone": "UTC"}
NIGHT2 = {"run_date": "2026-03-12", "as_of": "2026-03-13T00:00:00Z", "reporting_timezone": "UTC"}
SELECT = ["--select", "+mart_detection_daily", "+int_kpi_snapshot__detection", "--exclude", "mart_dora_tier+",
          "--indirect-selection", "cautious"]
MONITOR = ("PSVC1", "service_reference", "api-gateway")
PERSON = ("PUSER01", "user_reference", "Earline Greenholt")
APPROX = {"rel": 1e-9, "abs": 1e-9}


def incident(incident_id: str, created: str, *, service=SVC1, alerts: int = 1, resolved: str | None = None,
             merged_into: str | None = None) -> dict[str, Any]:
    record = h.pd_incident(incident_id, service, created, resolved, status="resolved" if resolved else "triggered")
    record["alert_counts"] = {"all": alerts, "triggered": 0, "resolved": alerts}
    if merged_into:
        record["resolve_reason"] = {"type": "merge_resolve_reason",
                                    "incident": {"id": merged_into, "type": "incident_reference"}}
    return record


def trigger(incident_id: str, created: str, agent=MONITOR, channel: str = "api") -> dict[str, Any]:
    return h.pd_log_entry(f"{incident_id}-trigger", "trigger_log_entry", incident_id, created, agent=agent,
                          channel=channel)


def night1_data() -> h.RawData:
    incidents = [
        incident("C1", "2026-03-02T10:00:00Z", alerts=2),
        incident("G1", "2026-03-02T11:00:00Z", service=SVC2),
        incident("S", "2026-03-03T09:30:00Z", alerts=0, resolved="2026-03-03T10:10:00Z", merged_into="T"),
        incident("T", "2026-03-03T10:00:00Z", alerts=2),
        incident("X1", "2026-03-04T10:00:00Z"),
        incident("X2", "2026-03-04T10:00:00Z"),
        incident("E1", "2026-03-05T10:00:00Z"),
        incident("W1", "2026-03-05T11:00:00Z", alerts=0),
        incident("N", "2026-03-07T00:10:00Z"),
        incident("L1", "2026-03-08T10:00:00Z"),
        incident("P1", "2026-03-08T12:00:00Z", alerts=2),
        incident("M1", "2026-03-09T09:00:00Z"),
        incident("M2", "2026-03-09T10:00:00Z"),
    ]
    alerts = [
        h.pd_alert("a-c1-1", "C1", "2026-03-02T10:00:00Z", "2026-03-02T09:50:00Z"),
        h.pd_alert("a-c1-2", "C1", "2026-03-02T10:05:00Z", "2026-03-02T09:40:00+00:00"),
        h.pd_alert("a-g1", "G1", "2026-03-02T11:00:00Z", "2026-03-02T11:30:00+01:00"),  # 10:30Z
        # read after the merge: S's alert is T's now (and S's own list is empty)
        h.pd_alert("a-s", "T", "2026-03-03T09:30:00Z", "2026-03-03T09:29:00Z"),
        h.pd_alert("a-t", "T", "2026-03-03T10:00:00Z", "2026-03-03T09:58:00Z"),
        h.pd_alert("a-x1", "X1", "2026-03-04T10:00:00Z", "2026-03-04T10:03:00Z"),
        h.pd_alert("a-x2", "X2", "2026-03-04T10:00:00Z", "2026-03-04T10:20:00Z"),
        h.pd_alert("a-e1", "E1", "2026-03-05T10:00:00Z", email=True),
        h.pd_alert("a-n", "N", "2026-03-07T00:10:00Z", "2026-03-06T23:50:00Z"),
        h.pd_alert("a-p1-naive", "P1", "2026-03-08T12:00:00Z", "2026-03-08 11:00:00"),
        h.pd_alert("a-p1-suppressed", "P1", "2026-03-08T12:01:00Z", "2026-03-08T11:00:00Z", suppressed=True),
        h.pd_alert("a-m1", "M1", "2026-03-09T09:00:00Z", "2026-03-09T08:59:00Z"),
        h.pd_alert("a-m2", "M2", "2026-03-09T10:00:00Z", "2026-03-09T09:50:00Z"),
    ]
    entries = [trigger(i["id"], i["created_at"]) for i in incidents if i["id"] not in ("E1", "W1")]
    entries += [trigger("E1", "2026-03-05T10:00:00Z", ("PINT002", "generic_email_inbound_integration_reference",
                                                       "Email"), channel="email"),
                trigger("W1", "2026-03-05T11:00:00Z", PERSON, channel="web_trigger")]
    return h.RawData(pagerduty_services=[h.pd_service(*SVC1), h.pd_service(*SVC2)], pagerduty_incidents=incidents,
                     pagerduty_alerts=alerts, pagerduty_log_entries=entries,
                     config_services=[("PSVC1", "platform", 99.9), ("PSVC2", "growth", 99.9)])


def night2_data() -> h.RawData:
    return h.RawData(
        pagerduty_incidents=[incident("M1", "2026-03-09T09:00:00Z", alerts=0, resolved="2026-03-12T08:00:00Z",
                                      merged_into="M2"),
                             incident("M2", "2026-03-09T10:00:00Z", alerts=2)],
        pagerduty_alerts=[h.pd_alert("a-l1", "L1", "2026-03-08T10:00:00Z", "2026-03-08T09:55:00Z"),
                          h.pd_alert("a-m1", "M2", "2026-03-09T09:00:00Z", "2026-03-09T08:59:00Z")],
        config_services=[("PSVC1", "platform", 99.9), ("PSVC2", "growth", 99.9)])


def mart(warehouse: Path) -> dict[tuple, dict[str, Any]]:
    rows = h.query(warehouse, "select * from marts.mart_detection_daily")
    return {(r["day"].isoformat(), r["scope_type"], r["scope_id"]): r for r in rows}


def facts(warehouse: Path) -> dict[str, dict[str, Any]]:
    return {r["incident_id"]: r for r in h.query(warehouse, "select * from marts.fct_incident_detection")}


@pytest.fixture(scope="module")
def nights(tmp_path_factory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("detection")
    path = work / "warehouse.duckdb"
    h.create_warehouse(path, night1_data())
    h.check_dbt_build(path, NIGHT1, work / "night1", SELECT)
    out: dict[str, Any] = {"night1": mart(path), "facts1": facts(path)}
    out["snapshot1"] = {(r["kpi"], r["scope_type"], r["scope_id"], r["window"]): r for r in h.query(
        path, "select * from intermediate.int_kpi_snapshot__detection where snapshot_date = date '2026-03-10'")}
    h.load_raw(path, night2_data())
    h.check_dbt_build(path, NIGHT2, work / "night2", SELECT)
    out["night2"], out["facts2"] = mart(path), facts(path)
    backfill = work / "backfill" / path.name
    backfill.parent.mkdir()
    shutil.copyfile(path, backfill)
    # what reads the run's date or as_of (tag every_run) on the way to the mart, and the mart
    h.check_dbt_build(backfill, NIGHT1, work / "backfill" / "dbt",
                      ["--select", "tag:every_run,+mart_detection_daily", "mart_detection_daily",
                       "--indirect-selection", "cautious"])
    out["backfill"], out["facts_backfill"] = mart(backfill), facts(backfill)
    return out


def test_case1_earliest_stamp_of_the_alerts_and_pooled_percentiles(nights):
    m = nights["night1"]
    assert m[("2026-03-02", "service", "PSVC1")]["mttd_s_mean"] == pytest.approx(1200, **APPROX)
    assert m[("2026-03-02", "service", "PSVC1")]["detection_sample_size"] == 1
    assert m[("2026-03-02", "team", "growth")]["mttd_s_p50"] == pytest.approx(1800, **APPROX)  # +01:00 read right
    org = m[("2026-03-02", "org", "org")]
    assert (org["incidents_eligible"], org["detection_sample_size"], org["detection_coverage_pct"]) == (2, 2, 100.0)
    assert org["mttd_s_mean"] == pytest.approx(1500, **APPROX)
    assert org["mttd_s_p50"] == pytest.approx(1500, **APPROX)
    assert org["mttd_s_p90"] == pytest.approx(1740, **APPROX)
    assert (org["monitoring_detected"], org["human_detected"], org["monitoring_detection_pct"]) == (2, 0, 100.0)


def test_case2_a_merged_incident_pulls_detection_earlier_and_is_not_eligible(nights):
    f = nights["facts1"]
    assert f["T"]["detected_at"].isoformat().startswith("2026-03-03T09:30")
    assert f["T"]["detection_delay_s"] == pytest.approx(60, **APPROX) and f["T"]["merged_incidents"] == 1
    assert (f["S"]["is_eligible"], f["S"]["detection_status"], f["S"]["detection_delay_s"]) == (False, "merged", None)
    day = nights["night1"][("2026-03-03", "org", "org")]
    assert (day["incidents_eligible"], day["detection_sample_size"], day["mttd_s_mean"]) == (1, 1, 60.0)


def test_case3_clamped_skew_and_an_invalid_stamp(nights):
    f = nights["facts1"]
    assert (f["X1"]["detection_status"], f["X1"]["detection_delay_s"]) == ("clamped", 0.0)
    assert (f["X2"]["detection_status"], f["X2"]["detection_delay_s"]) == ("invalid_stamp", None)
    day = nights["night1"][("2026-03-04", "service", "PSVC1")]
    assert (day["incidents_eligible"], day["detection_sample_size"], day["mttd_s_mean"], day["mttd_s_p50"]) == (
        2, 1, 0.0, 0.0)
    assert (day["detection_coverage_pct"], day["detection_clamped"], day["impact_start_invalid"]) == (50.0, 1, 1)


def test_case4_no_stamp_no_sample_and_who_detected(nights):
    f = nights["facts1"]
    assert (f["E1"]["detection_status"], f["E1"]["detected_by"]) == ("no_stamp", "monitoring")
    assert (f["W1"]["detection_status"], f["W1"]["detected_by"]) == ("no_alerts", "human")
    day = nights["night1"][("2026-03-05", "org", "org")]
    assert (day["incidents_eligible"], day["detection_sample_size"], day["mttd_s_mean"], day["mttd_s_p50"]) == (
        2, 0, None, None)
    assert (day["detection_coverage_pct"], day["monitoring_detected"], day["human_detected"]) == (0.0, 1, 1)
    assert day["monitoring_detection_pct"] == 50.0


def test_case6_counted_on_the_local_day_of_creation(nights):
    m = nights["night1"]
    assert m[("2026-03-07", "service", "PSVC1")]["mttd_s_mean"] == pytest.approx(1200, **APPROX)
    empty = m[("2026-03-06", "service", "PSVC1")]
    assert (empty["incidents_eligible"], empty["detection_sample_size"], empty["detection_coverage_pct"],
            empty["mttd_s_mean"]) == (0, 0, None, None)


def test_unknowns_without_offset_suppressed_and_not_loaded_then_a_late_alert(nights):
    f1, f2 = nights["facts1"], nights["facts2"]
    assert f1["L1"]["detection_status"] == "alerts_not_loaded"
    assert (f1["P1"]["detection_status"], f1["P1"]["alerts_loaded"]) == ("no_stamp", 1)  # the suppressed one is out
    day1 = nights["night1"][("2026-03-08", "service", "PSVC1")]
    assert (day1["incidents_eligible"], day1["detection_sample_size"], day1["detection_coverage_pct"]) == (2, 0, 0.0)
    assert (f2["L1"]["detection_status"], f2["L1"]["detection_delay_s"]) == ("measured", 300.0)
    day2 = nights["night2"][("2026-03-08", "service", "PSVC1")]
    assert (day2["detection_sample_size"], day2["detection_coverage_pct"], day2["mttd_s_mean"]) == (1, 50.0, 300.0)


def test_a_merge_after_the_night_changes_the_next_night_not_the_replay(nights):
    n1, n2, back = nights["facts1"], nights["facts2"], nights["facts_backfill"]
    assert (n1["M1"]["detection_delay_s"], n1["M2"]["detection_delay_s"]) == (60.0, 600.0)
    assert (n2["M1"]["is_eligible"], n2["M2"]["detection_delay_s"]) == (False, 60.0)
    assert (back["M1"]["is_eligible"], back["M1"]["detection_delay_s"], back["M2"]["detection_delay_s"]) == (
        True, 60.0, 600.0)
    day = nights["night2"][("2026-03-09", "org", "org")]
    assert (day["incidents_eligible"], day["mttd_s_mean"]) == (1, 60.0)


def test_the_backfill_replays_night_one_but_for_the_late_alert(nights):
    """Rebuilt after night 2 for 03-10, every row equals night 1's except 03-08, where L1's alert (received 03-08,
    loaded only on night 2) is now known: the replay is as of as_of, late loads included."""
    night1, back = nights["night1"], nights["backfill"]
    assert set(back) == set(night1)
    differing = {key for key in night1 if night1[key] != back[key]}
    assert differing == {("2026-03-08", "service", "PSVC1"), ("2026-03-08", "team", "platform"),
                         ("2026-03-08", "org", "org")}
    assert back[("2026-03-08", "org", "org")]["detection_sample_size"] == 1


def test_snapshot_names_windows_and_sample_sizes(nights):
    s = nights["snapshot1"]
    kpis = {k[0] for k in s}
    # no GitHub repository here: no change detection rows (as the DORA area), the four MTTD KPIs on 5 scopes
    assert kpis == {"mttd_mean", "mttd_p50", "detection_coverage", "monitoring_detection_share"}
    assert len(s) == 4 * 5 * 3
    assert {k[3] for k in s} == {"1d", "7d", "30d"}
    # 30 days to 03-10, org: eligible C1 G1 T X1 X2 E1 W1 N L1 P1 M1 M2 = 12; measured C1 G1 T X1 N M1 M2 = 7
    # (1200, 1800, 60, 0, 1200, 60, 600): mean 4920 / 7; p50 600
    mean = s[("mttd_mean", "org", "org", "30d")]
    assert mean["value"] == pytest.approx(4920 / 7, **APPROX) and mean["sample_size"] == 7
    assert s[("mttd_p50", "org", "org", "30d")]["value"] == pytest.approx(600, **APPROX)
    coverage = s[("detection_coverage", "org", "org", "30d")]
    assert coverage["value"] == pytest.approx(100 * 7 / 12, **APPROX) and coverage["sample_size"] == 12
    share = s[("monitoring_detection_share", "org", "org", "30d")]  # W1 the one human of 12
    assert share["value"] == pytest.approx(100 * 11 / 12, **APPROX) and share["sample_size"] == 12
    # 7 days 03-04 .. 03-10 for service PSVC1: X1 X2 E1 W1 N L1 P1 M1 M2 = 9 eligible, measured X1 N M1 M2
    week = s[("mttd_mean", "service", "PSVC1", "7d")]
    assert week["value"] == pytest.approx((0 + 1200 + 60 + 600) / 4, **APPROX) and week["sample_size"] == 4
    assert s[("detection_coverage", "service", "PSVC1", "7d")]["sample_size"] == 9
    # a day without incidents: NULL with sample size 0
    day = s[("mttd_mean", "org", "org", "1d")]
    assert (day["value"], day["sample_size"]) == (None, 0)
