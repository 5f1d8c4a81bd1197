"""Incident marts (dbt): fct_incidents, mart_incident_response_daily, and the incremental builds.

Hand-built PagerDuty incidents, log entries and Jira issues; every expected number is worked out by hand in
the comments. dbt runs once per scenario (module-scoped fixtures); the incremental scenario runs it three
times (build, incremental build, full refresh of a copy).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from opskpi.load import ensure_meta

try:  # tests/integration as a package
    from . import dbt_harness as h
except ImportError:  # rootdir-relative (no __init__.py in tests/integration)
    import dbt_harness as h  # type: ignore[no-redef]

pytestmark = pytest.mark.skipif(not h.dbt_executable().exists(), reason="dbt is not installed in this venv")
AREA = h.area("+fct_incidents+", "+mart_incident_response_daily+", "+mart_availability_daily+",
              "+mart_availability_rollup_daily+", "+stg_pagerduty__teams+", "+stg_pagerduty__log_entries+",
              "+fct_security_incidents+", "+mart_downtime_cost_daily")

APPROX = {"rel": 1e-9, "abs": 1e-9}
DAY = 86_400


def lifecycle(
    incident_id: str, created: str, *, ack: str | None = None, resolves: tuple[str, ...] = (), **extra: str
) -> list[dict[str, Any]]:
    """Log entries of one incident: trigger at `created`, an optional acknowledge, resolve entries; `extra`
    maps entry types to times (e.g. `trigger_log_entry_2="..."` for a reopen)."""
    entries = [h.pd_log_entry(f"{incident_id}-trigger", "trigger_log_entry", incident_id, created)]
    if ack:
        entries.append(h.pd_log_entry(f"{incident_id}-ack", "acknowledge_log_entry", incident_id, ack))
    for n, at in enumerate(resolves, start=1):
        entries.append(h.pd_log_entry(f"{incident_id}-resolve-{n}", "resolve_log_entry", incident_id, at))
    for key, at in extra.items():
        entry_type = key.rsplit("_", 1)[0] if key[-1].isdigit() else key
        entries.append(h.pd_log_entry(f"{incident_id}-{key}", entry_type, incident_id, at))
    return entries


def jira_ts(value: str) -> str:
    """'2026-03-04T09:00' -> Jira's rendering '2026-03-04T09:00:00.000+0000'."""
    return f"{value}:00.000+0000"


def by_key(rows: list[dict[str, Any]], *keys: str) -> dict[Any, dict[str, Any]]:
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows}


# ---------------------------------------------------------------------------------------------------
# Scenario A: reporting_timezone UTC, run_date 2026-03-10, as_of 2026-03-10T12:00:00Z, Jira type Incident on.
# Earliest incident first-1 on 03-01 -> window 03-01 .. 03-10 = 10 days.
# Scopes: 6 services (5 PagerDuty + jira:OPS), 3 teams (payments, web, unassigned), org = 10 -> 100 rows.
# ---------------------------------------------------------------------------------------------------
A_VARS = {
    "run_date": "2026-03-10",
    "as_of": "2026-03-10T12:00:00Z",
    "reporting_timezone": "UTC",
    "default_slo_target_pct": 99.9,
    "downtime_urgencies": ["high"],
    "downtime_priorities": [],
    "jira_incident_issue_types": ["Incident"],
    # security incidents (one rule of each kind; tests at the end of the module)
    "security_incident_service_ids": ["svc-api"],
    "security_incident_types": ["Security"],
    "security_incident_priorities": ["p1"],
    "security_incident_title_pattern": "^INCIDENT (OV-B|P-DB-1)$",
    "security_incident_jira_issue_types": ["bug"],
}
API = ("svc-api", "Checkout API")
DB = ("svc-db", "Orders DB")
WEB = ("svc-web", "Web Frontend")
QUIET = ("svc-quiet", "Status Page")
BATCH = ("svc-batch", "Batch Export")  # not in the config mapping -> team unassigned
A_DAYS = 10
A_SCOPES = 10


def scenario_a() -> h.RawData:
    inc = h.pd_incident
    incidents = [
        # earliest incident (opens the window), low urgency, no log entries at all -> TTA NULL, reopen 0
        inc("first-1", BATCH, "2026-03-01T00:00:00Z", "2026-03-01T00:30:00Z", urgency="low"),
        # overlap: a 10:00-11:00 and b 10:30-12:00 cover 10:30-11:00 together -> union 7200 s, not 9000
        inc("ov-a", API, "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z"),
        inc("ov-b", API, "2026-03-02T10:30:00Z", "2026-03-02T12:00:00Z"),
        # spans midnight: 03-03 23:00 -> 03-04 01:30
        inc("mid-1", DB, "2026-03-03T23:00:00Z", "2026-03-04T01:30:00Z",
            priority={"id": "PP1", "type": "priority_reference", "summary": "P1"}),
        # reopened: resolved 09:00, triggered again 10:00, resolved 11:00 (the record's resolved_at)
        inc("reo-1", API, "2026-03-05T08:00:00Z", "2026-03-05T11:00:00Z"),
        # low urgency: no downtime, but in MTTA / MTTR
        {**inc("low-1", BATCH, "2026-03-06T06:00:00Z", "2026-03-06T07:00:00Z", urgency="low"),
         "incident_type": {"name": "security"}},
        # five low-urgency incidents on svc-db and one on svc-api on 03-08 (percentiles)
        inc("p-db-1", DB, "2026-03-08T01:00:00Z", "2026-03-08T01:10:00Z", urgency="low"),
        inc("p-db-2", DB, "2026-03-08T02:00:00Z", "2026-03-08T02:20:00Z", urgency="low"),
        inc("p-db-3", DB, "2026-03-08T03:00:00Z", "2026-03-08T03:30:00Z", urgency="low"),
        inc("p-db-4", DB, "2026-03-08T04:00:00Z", "2026-03-08T05:00:00Z", urgency="low"),
        inc("p-db-5", DB, "2026-03-08T05:00:00Z", "2026-03-08T07:00:00Z", urgency="low"),
        inc("p-api-1", API, "2026-03-08T10:00:00Z", "2026-03-08T11:00:00Z", urgency="low"),
        # open since 03-09 20:00, acknowledged 20:10: clipped at as_of for availability, TTR NULL
        inc("open-1", WEB, "2026-03-09T20:00:00Z", None, status="acknowledged"),
        # acknowledged 13:00 and resolved 14:00, both after as_of (12:00): open, unacknowledged at as_of
        inc("late-ack", WEB, "2026-03-10T08:00:00Z", "2026-03-10T14:00:00Z", urgency="low"),
        # created after as_of: not an incident of this run at all
        inc("after-as-of", WEB, "2026-03-10T13:00:00Z", "2026-03-10T13:30:00Z"),
    ]
    log_entries = [
        *lifecycle("ov-a", "2026-03-02T10:00:00Z", ack="2026-03-02T10:05:00Z", resolves=("2026-03-02T11:00:00Z",)),
        # the spec's other spelling of the acknowledge type
        h.pd_log_entry("ov-b-trigger", "trigger_log_entry", "ov-b", "2026-03-02T10:30:00Z"),
        h.pd_log_entry("ov-b-ack", "acknowledgement_log_entry", "ov-b", "2026-03-02T10:40:00Z"),
        h.pd_log_entry("ov-b-resolve", "resolve_log_entry", "ov-b", "2026-03-02T12:00:00Z"),
        *lifecycle("mid-1", "2026-03-03T23:00:00Z", ack="2026-03-03T23:20:00Z", resolves=("2026-03-04T01:30:00Z",)),
        *lifecycle(
            "reo-1",
            "2026-03-05T08:00:00Z",
            ack="2026-03-05T08:10:00Z",
            resolves=("2026-03-05T09:00:00Z", "2026-03-05T11:00:00Z"),
            annotate_log_entry="2026-03-05T09:30:00Z",  # not a state change: ignored
            trigger_log_entry_2="2026-03-05T10:00:00Z",  # the reopen
            assign_log_entry="2026-03-05T10:00:30Z",
        ),
        *lifecycle("low-1", "2026-03-06T06:00:00Z", ack="2026-03-06T06:30:00Z", resolves=("2026-03-06T07:00:00Z",)),
        *lifecycle("p-db-1", "2026-03-08T01:00:00Z", ack="2026-03-08T01:01:00Z", resolves=("2026-03-08T01:10:00Z",)),
        *lifecycle("p-db-2", "2026-03-08T02:00:00Z", ack="2026-03-08T02:02:00Z", resolves=("2026-03-08T02:20:00Z",)),
        *lifecycle("p-db-3", "2026-03-08T03:00:00Z", ack="2026-03-08T03:05:00Z", resolves=("2026-03-08T03:30:00Z",)),
        *lifecycle("p-db-4", "2026-03-08T04:00:00Z", ack="2026-03-08T04:15:00Z", resolves=("2026-03-08T05:00:00Z",)),
        *lifecycle("p-db-5", "2026-03-08T05:00:00Z", ack="2026-03-08T05:25:00Z", resolves=("2026-03-08T07:00:00Z",)),
        *lifecycle("p-api-1", "2026-03-08T10:00:00Z", ack="2026-03-08T10:20:00Z", resolves=("2026-03-08T11:00:00Z",)),
        *lifecycle("open-1", "2026-03-09T20:00:00Z", ack="2026-03-09T20:10:00Z"),
        *lifecycle("late-ack", "2026-03-10T08:00:00Z", ack="2026-03-10T13:00:00Z", resolves=("2026-03-10T14:00:00Z",)),
        *lifecycle("after-as-of", "2026-03-10T13:00:00Z", resolves=("2026-03-10T13:30:00Z",)),
    ]
    jira = [
        # Highest -> urgency high -> is_downtime; resolved after 1 h
        h.jira_issue(
            "20001",
            "OPS-1",
            jira_ts("2026-03-04T09:00"),
            jira_ts("2026-03-04T10:00"),
            jira_ts("2026-03-04T10:00"),
            status=("Done", "done"),
            issuetype="Incident",
            priority="Highest",
        ),
        # a Bug is not an incident type
        h.jira_issue("20002", "OPS-2", jira_ts("2026-03-04T09:30"), jira_ts("2026-03-04T09:30"), None, issuetype="Bug"),
        # Medium -> low urgency; still open
        h.jira_issue(
            "20003",
            "OPS-3",
            jira_ts("2026-03-06T12:00"),
            jira_ts("2026-03-06T12:00"),
            None,
            issuetype="Incident",
            priority="Medium",
        ),
    ]
    return h.RawData(
        pagerduty_services=[h.pd_service(sid, name) for sid, name in (API, DB, WEB, QUIET, BATCH)],
        pagerduty_incidents=incidents,
        pagerduty_log_entries=log_entries,
        pagerduty_teams=[h.pd_team("PT1", "Payments"), h.pd_team("PT2", "Web", "Frontend team")],
        jira_issues=jira,
        config_services=[
            ("svc-api", "payments", 99.9),
            ("svc-db", "payments", None),
            ("svc-web", "web", None),
            ("svc-quiet", "web", None),
            ("jira:OPS", "web", None),  # a Jira pseudo-service can be mapped like a PagerDuty service
        ],
        config_service_prices=[("svc-api", 2.0, None)],
    )


@pytest.fixture(scope="module")
def a_wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return h.build_scenario(tmp_path_factory.mktemp("dbt_incidents_a"), scenario_a(), A_VARS, AREA)


@pytest.fixture(scope="module")
def fct(a_wh: Path) -> dict[str, dict[str, Any]]:
    return by_key(h.query(a_wh, "select * from marts.fct_incidents"), "incident_id")


@pytest.fixture(scope="module")
def resp(a_wh: Path) -> dict[tuple[str, str, date], dict[str, Any]]:
    rows = h.query(a_wh, "select * from marts.mart_incident_response_daily")
    return by_key(rows, "scope_type", "scope_id", "day")


def avail(wh: Path, service_id: str, day: str) -> dict[str, Any]:
    rows = h.query(
        wh, "select * from marts.mart_availability_daily where service_id = ? and day = ?", [service_id, day]
    )
    assert len(rows) == 1, rows
    return rows[0]


def d(value: str) -> date:
    return date.fromisoformat(value)


def assert_stats(row: dict[str, Any], prefix: str, n: int, mean: float | None, p50=None, p90=None) -> None:
    assert row[f"{prefix}_sample_size"] == n
    if n == 0:
        assert (row[f"{prefix}_s_mean"], row[f"{prefix}_s_p50"], row[f"{prefix}_s_p90"]) == (None, None, None)
        return
    assert row[f"{prefix}_s_mean"] == pytest.approx(mean, **APPROX)
    assert row[f"{prefix}_s_p50"] == pytest.approx(p50, **APPROX)
    assert row[f"{prefix}_s_p90"] == pytest.approx(p90, **APPROX)


# --- staging --------------------------------------------------------------------------------------


def test_staging_log_entries_and_teams(a_wh: Path) -> None:
    entries = by_key(h.query(a_wh, "select * from staging.stg_pagerduty__log_entries"), "log_entry_id")
    assert entries["ov-b-ack"]["log_entry_type"] == "acknowledge_log_entry"  # normalised spelling
    assert entries["ov-b-ack"]["api_log_entry_type"] == "acknowledgement_log_entry"
    ack = entries["ov-a-ack"]
    assert (ack["incident_id"], ack["created_at"], ack["agent_type"], ack["channel_type"]) == (
        "ov-a",
        datetime(2026, 3, 2, 10, 5, tzinfo=UTC),
        "user_reference",
        "web_ui",
    )
    teams = by_key(h.query(a_wh, "select * from staging.stg_pagerduty__teams"), "team_id")
    assert (teams["PT2"]["team_name"], teams["PT2"]["description"]) == ("Web", "Frontend team")


# --- fct_incidents --------------------------------------------------------------------------------


def test_fct_has_one_row_per_incident_up_to_as_of(fct: dict[str, dict[str, Any]]) -> None:
    # 14 PagerDuty incidents created by as_of (after-as-of is not) + OPS-1, OPS-3 (OPS-2 is a Bug)
    assert "after-as-of" not in fct
    assert len(fct) == 16
    assert {k for k, r in fct.items() if r["source"] == "jira"} == {"jira:OPS-1", "jira:OPS-3"}


def test_fct_tta_ttr_and_both_spellings(fct: dict[str, dict[str, Any]]) -> None:
    # ov-a: ack 10:05 - 10:00 = 300 s; resolved 11:00 -> 3600 s
    assert (fct["ov-a"]["tta_s"], fct["ov-a"]["ttr_s"]) == (300.0, 3600.0)
    # ov-b: `acknowledgement_log_entry` at 10:40 - 10:30 = 600 s; 12:00 - 10:30 = 5400 s
    assert (fct["ov-b"]["tta_s"], fct["ov-b"]["ttr_s"]) == (600.0, 5400.0)
    # no log entries at all: TTA unknown (NULL), TTR from the incident, no reopen
    first = fct["first-1"]
    assert (first["acknowledged_at"], first["tta_s"], first["ttr_s"], first["reopen_count"]) == (None, None, 1800.0, 0)
    assert (first["team"], first["service_name"], first["status"]) == ("unassigned", "Batch Export", "resolved")


def test_fct_reopened_incident(fct: dict[str, dict[str, Any]]) -> None:
    # resolved 09:00, trigger 10:00 (reopen), resolved 11:00: TTR to the last resolution = 3 h; one reopen
    r = fct["reo-1"]
    assert r["resolved_at"] == datetime(2026, 3, 5, 11, tzinfo=UTC)
    assert (r["ttr_s"], r["tta_s"], r["reopen_count"], r["status"], r["is_open"]) == (
        10_800.0,
        600.0,
        1,
        "resolved",
        False,
    )


def test_fct_open_incident(fct: dict[str, dict[str, Any]]) -> None:
    r = fct["open-1"]
    assert (r["is_open"], r["resolved_at"], r["ttr_s"], r["tta_s"], r["status"]) == (
        True,
        None,
        None,
        600.0,
        "acknowledged",
    )
    assert (r["is_downtime"], r["team"], r["service_name"]) == (True, "web", "Web Frontend")


def test_fct_acknowledgement_and_resolution_after_as_of_are_ignored(fct: dict[str, dict[str, Any]]) -> None:
    # acknowledged 13:00 and resolved 14:00, as_of 12:00: at as_of it was open and unacknowledged
    r = fct["late-ack"]
    assert (r["acknowledged_at"], r["tta_s"], r["resolved_at"], r["ttr_s"], r["is_open"]) == (
        None,
        None,
        None,
        None,
        True,
    )
    assert (r["status"], r["reopen_count"], r["is_downtime"]) == ("triggered", 0, False)


def test_fct_jira_incidents(fct: dict[str, dict[str, Any]]) -> None:
    ops1 = fct["jira:OPS-1"]
    # Highest -> high urgency -> downtime; created 09:00, resolutiondate 10:00 -> TTR 3600; no acknowledgement
    assert (ops1["source"], ops1["service_id"], ops1["team"], ops1["service_name"]) == (
        "jira",
        "jira:OPS",
        "web",
        "Example",
    )
    assert (ops1["urgency"], ops1["priority"], ops1["is_downtime"], ops1["status"]) == (
        "high",
        "Highest",
        True,
        "resolved",
    )
    assert (ops1["ttr_s"], ops1["tta_s"], ops1["acknowledged_at"], ops1["reopen_count"]) == (3600.0, None, None, None)
    ops3 = fct["jira:OPS-3"]
    assert (ops3["urgency"], ops3["is_downtime"], ops3["is_open"], ops3["status"], ops3["ttr_s"]) == (
        "low",
        False,
        True,
        "triggered",
        None,
    )


# --- availability (shared definitions) ------------------------------------------------------------


def test_availability_overlap_counts_once(a_wh: Path) -> None:
    # union of 10:00-11:00 and 10:30-12:00 = 7200 s -> 100 * (1 - 7200/86400) = 91.666...
    r = avail(a_wh, "svc-api", "2026-03-02")
    assert (r["downtime_s"], r["incident_count"]) == (7200.0, 2)
    assert r["availability_pct"] == pytest.approx(100 * (1 - 7200 / DAY), **APPROX)


def test_availability_midnight_and_reopen(a_wh: Path) -> None:
    # mid-1 23:00-01:30: 3600 s on 03-03, 5400 s on 03-04
    assert avail(a_wh, "svc-db", "2026-03-03")["downtime_s"] == 3600.0
    assert avail(a_wh, "svc-db", "2026-03-04")["availability_pct"] == pytest.approx(100 * (1 - 5400 / DAY), **APPROX)
    # reopened incident: one interval created 08:00 -> last resolution 11:00 (the 09:00-10:00 gap included)
    # = 10800 s -> 87.5
    r = avail(a_wh, "svc-api", "2026-03-05")
    assert (r["downtime_s"], r["availability_pct"]) == (10_800.0, 87.5)


def test_availability_open_incident_clipped_and_low_urgency(a_wh: Path) -> None:
    # open-1 from 03-09 20:00: 4 h on 03-09 (83.33...), 00:00-12:00 (as_of) on 03-10 -> 50.0
    assert avail(a_wh, "svc-web", "2026-03-09")["downtime_s"] == 14_400.0
    r = avail(a_wh, "svc-web", "2026-03-10")
    # late-ack is low urgency (no downtime) but counts; after-as-of (13:00) is not counted at all
    assert (r["downtime_s"], r["availability_pct"], r["incident_count"]) == (43_200.0, 50.0, 1)
    low = avail(a_wh, "svc-batch", "2026-03-06")
    assert (low["downtime_s"], low["availability_pct"], low["incident_count"]) == (0.0, 100.0, 1)


def test_availability_ignores_jira_incidents(a_wh: Path) -> None:
    # availability is per PagerDuty service: 5 services, OPS-1 (high) does not create a jira:OPS service there
    org = h.query(
        a_wh,
        "select * from marts.mart_availability_rollup_daily where day = '2026-03-04' and scope_type = 'org'",
    )[0]
    # only svc-db is down on 03-04 (5400 s): (4 * 100 + 93.75) / 5 = 98.75
    assert (org["service_count"], org["downtime_s"]) == (5, 5400.0)
    assert org["availability_pct"] == pytest.approx((400 + 93.75) / 5, **APPROX)


# --- mart_incident_response_daily -----------------------------------------------------------------


def test_response_grid_is_dense(a_wh: Path, resp: dict) -> None:
    assert len(resp) == A_SCOPES * A_DAYS
    scopes = {(t, s) for t, s, _ in resp}
    assert scopes == {
        ("org", "org"),
        ("team", "payments"),
        ("team", "web"),
        ("team", "unassigned"),
        *(("service", sid) for sid in ("svc-api", "svc-db", "svc-web", "svc-quiet", "svc-batch", "jira:OPS")),
    }
    assert {day for _, _, day in resp} == {date(2026, 3, n) for n in range(1, 11)}


def test_response_empty_day_is_null_with_sample_size_zero(resp: dict) -> None:
    # nothing happens on 03-07 anywhere (OPS-3 stays open: open_at_end_of_day 1 for org / web / jira:OPS)
    for (scope_type, scope_id, day), r in resp.items():
        if day != date(2026, 3, 7):
            continue
        assert (r["incidents_created"], r["incidents_resolved"]) == (0, 0)
        assert_stats(r, "mtta", 0, None)
        assert_stats(r, "mttr", 0, None)
        expected_open = 1 if scope_id in ("org", "web", "jira:OPS") else 0
        assert r["open_at_end_of_day"] == expected_open, (scope_type, scope_id)


def test_response_overlap_day(resp: dict) -> None:
    r = resp[("service", "svc-api", d("2026-03-02"))]
    # TTA [300, 600]: mean 450, p50 450, p90 300 + 0.9 * 300 = 570
    assert (r["incidents_created"], r["incidents_resolved"], r["open_at_end_of_day"]) == (2, 2, 0)
    assert_stats(r, "mtta", 2, 450, 450, 570)
    # TTR [3600, 5400]: mean 4500, p50 4500, p90 3600 + 0.9 * 1800 = 5220
    assert_stats(r, "mttr", 2, 4500, 4500, 5220)


def test_response_midnight_spanning(resp: dict) -> None:
    # mid-1: MTTA counts on its creation day 03-03, MTTR on its resolution day 03-04; open at the end of 03-03
    r3 = resp[("service", "svc-db", d("2026-03-03"))]
    assert (r3["incidents_created"], r3["incidents_resolved"], r3["open_at_end_of_day"]) == (1, 0, 1)
    assert_stats(r3, "mtta", 1, 1200, 1200, 1200)
    assert_stats(r3, "mttr", 0, None)
    r4 = resp[("service", "svc-db", d("2026-03-04"))]
    assert (r4["incidents_created"], r4["incidents_resolved"], r4["open_at_end_of_day"]) == (0, 1, 0)
    assert_stats(r4, "mttr", 1, 9000, 9000, 9000)


def test_response_org_pools_sources(resp: dict) -> None:
    # 03-04: resolved mid-1 (9000 s) and jira OPS-1 (3600 s): mean 6300, p50 6300, p90 3600 + 0.9 * 5400 = 8460
    org = resp[("org", "org", d("2026-03-04"))]
    assert (org["incidents_created"], org["incidents_resolved"]) == (1, 2)
    assert_stats(org, "mttr", 2, 6300, 6300, 8460)
    # OPS-1 was created that day but has no acknowledgement: MTTA NULL, sample 0 (not 0 s)
    assert_stats(org, "mtta", 0, None)
    web = resp[("team", "web", d("2026-03-04"))]
    assert (web["incidents_created"], web["incidents_resolved"]) == (1, 1)
    assert_stats(web, "mttr", 1, 3600, 3600, 3600)


def test_response_low_urgency_included(resp: dict) -> None:
    # low-1 (low urgency, no downtime): TTA 1800, TTR 3600 on svc-batch and team unassigned
    for key in (("service", "svc-batch"), ("team", "unassigned")):
        r = resp[(*key, d("2026-03-06"))]
        assert (r["incidents_created"], r["incidents_resolved"]) == (1, 1)
        assert_stats(r, "mtta", 1, 1800, 1800, 1800)
        assert_stats(r, "mttr", 1, 3600, 3600, 3600)


def test_response_reopened_incident(resp: dict) -> None:
    # reo-1 resolves once in MTTR (at its last resolution, TTR 10800), not per resolve entry
    r = resp[("service", "svc-api", d("2026-03-05"))]
    assert (r["incidents_created"], r["incidents_resolved"]) == (1, 1)
    assert_stats(r, "mttr", 1, 10_800, 10_800, 10_800)
    assert_stats(r, "mtta", 1, 600, 600, 600)


def test_response_percentiles_service_and_team(resp: dict) -> None:
    # svc-db 03-08, TTA [60, 120, 300, 900, 1500]: mean 2880 / 5 = 576; p50 = 300;
    # p90: position 0.9 * 4 = 3.6 -> 900 + 0.6 * (1500 - 900) = 1260
    db = resp[("service", "svc-db", d("2026-03-08"))]
    assert (db["incidents_created"], db["incidents_resolved"], db["open_at_end_of_day"]) == (5, 5, 0)
    assert_stats(db, "mtta", 5, 576, 300, 1260)
    # TTR [600, 1200, 1800, 3600, 7200]: mean 14400 / 5 = 2880; p50 1800; p90 3600 + 0.6 * 3600 = 5760
    assert_stats(db, "mttr", 5, 2880, 1800, 5760)
    # team payments pools svc-db and svc-api (p-api-1: TTA 1200, TTR 3600) - not a mean of service means:
    # TTA [60, 120, 300, 900, 1200, 1500]: mean 4080 / 6 = 680; p50 (pos 2.5) = (300 + 900) / 2 = 600;
    # p90 (pos 4.5) = 1200 + 0.5 * 300 = 1350
    pay = resp[("team", "payments", d("2026-03-08"))]
    assert (pay["incidents_created"], pay["incidents_resolved"]) == (6, 6)
    assert_stats(pay, "mtta", 6, 680, 600, 1350)
    # TTR [600, 1200, 1800, 3600, 3600, 7200]: mean 18000 / 6 = 3000; p50 (1800 + 3600) / 2 = 2700;
    # p90 = 3600 + 0.5 * 3600 = 5400
    assert_stats(pay, "mttr", 6, 3000, 2700, 5400)
    # org = payments that day (nothing else happened)
    org = resp[("org", "org", d("2026-03-08"))]
    assert_stats(org, "mtta", 6, 680, 600, 1350)
    assert_stats(org, "mttr", 6, 3000, 2700, 5400)


def test_response_open_incidents_last_day(resp: dict) -> None:
    # 03-09: open-1 created 20:00 (TTA 600), open at the end of the day; OPS-3 still open too
    web9 = resp[("team", "web", d("2026-03-09"))]
    assert (web9["incidents_created"], web9["open_at_end_of_day"]) == (1, 2)
    assert_stats(web9, "mtta", 1, 600, 600, 600)
    # 03-10 (end = as_of 12:00): open-1, late-ack (resolved only at 14:00) and OPS-3 -> 3 for team web / org;
    # late-ack was created that day but not acknowledged by as_of -> MTTA NULL
    for key, expected_open in ((("team", "web"), 3), (("org", "org"), 3), (("service", "svc-web"), 2)):
        r = resp[(*key, d("2026-03-10"))]
        assert (r["incidents_created"], r["incidents_resolved"], r["open_at_end_of_day"]) == (1, 0, expected_open)
        assert_stats(r, "mtta", 0, None)
        assert_stats(r, "mttr", 0, None)
    # nothing open for svc-quiet, ever
    assert {r["open_at_end_of_day"] for (t, s, _), r in resp.items() if s == "svc-quiet"} == {0}


def test_incremental_state_after_first_build(a_wh: Path) -> None:
    for table in ("mart_availability_daily", "mart_incident_response_daily"):
        comment = h.query(
            a_wh, "select comment from duckdb_tables() where schema_name = 'marts' and table_name = ?", [table]
        )[0]["comment"]
        state = json.loads(comment)
        assert (state["recomputed_from"], state["run_date"]) == ("all", "2026-03-10")
        assert int(state["as_of_us"]) == int(datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp()) * 1_000_000
        assert int(state["watermark_us"]) == int(h.LOADED_AT.timestamp()) * 1_000_000


# ---------------------------------------------------------------------------------------------------
# Scenario B: Europe/Berlin, run_date 2026-03-30, as_of 2026-03-30T22:00:00Z (local midnight, CEST).
# DST starts 2026-03-29 (23 h day: [03-28T23:00Z, 03-29T22:00Z)). Window 03-28 .. 03-30 = 3 days.
# ---------------------------------------------------------------------------------------------------
B_VARS = {
    "run_date": "2026-03-30",
    "as_of": "2026-03-30T22:00:00Z",
    "reporting_timezone": "Europe/Berlin",
    "default_slo_target_pct": 99.9,
    "downtime_urgencies": ["high"],
    "downtime_priorities": [],
}
B1 = ("svc-b1", "Berlin API")
B2 = ("svc-b2", "Berlin Jobs")


def scenario_b() -> h.RawData:
    inc = h.pd_incident
    return h.RawData(
        pagerduty_services=[h.pd_service(sid, name) for sid, name in (B1, B2)],
        pagerduty_incidents=[
            # 00:30-01:00 CET on 03-28 (UTC: 03-27 23:30 - 03-28 00:00); no log entries
            inc("b-first", B2, "2026-03-27T23:30:00Z", "2026-03-28T00:00:00Z", urgency="low"),
            # 00:30 CET -> 23:30 CEST on 03-29 = 22 h = 79200 s, all within the 23-h local day
            inc("b-dst", B1, "2026-03-28T23:30:00Z", "2026-03-29T21:30:00Z"),
            # 00:30 CEST 03-30 (UTC still 03-29): acknowledged after 15 min, resolved after 30 min
            inc("b-late", B1, "2026-03-29T22:30:00Z", "2026-03-29T23:00:00Z", urgency="low"),
        ],
        pagerduty_log_entries=[
            *lifecycle("b-dst", "2026-03-28T23:30:00Z", ack="2026-03-28T23:40:00Z", resolves=("2026-03-29T21:30:00Z",)),
            *lifecycle(
                "b-late", "2026-03-29T22:30:00Z", ack="2026-03-29T22:45:00Z", resolves=("2026-03-29T23:00:00Z",)
            ),
        ],
        config_services=[("svc-b1", "eu", 99.5), ("svc-b2", "eu", None)],
    )


@pytest.fixture(scope="module")
def b_wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return h.build_scenario(tmp_path_factory.mktemp("dbt_incidents_b"), scenario_b(), B_VARS, AREA)


def test_berlin_dst_day_availability(b_wh: Path) -> None:
    # 79200 s down on a 82800-s day -> 100 * (1 - 79200/82800) = 4.3478... (8.33... if the day had 24 h)
    r = avail(b_wh, "svc-b1", "2026-03-29")
    assert (r["day_length_s"], r["downtime_s"], r["incident_count"]) == (82_800, 79_200.0, 1)
    assert r["availability_pct"] == pytest.approx(100 * (1 - 79_200 / 82_800), **APPROX)
    # b-late (created 03-29T22:30Z) belongs to local 03-30, not to 03-29
    assert avail(b_wh, "svc-b1", "2026-03-30")["incident_count"] == 1


def test_berlin_response_uses_local_days(b_wh: Path) -> None:
    resp = by_key(h.query(b_wh, "select * from marts.mart_incident_response_daily"), "scope_type", "scope_id", "day")
    # 2 services + team eu + org, 3 days
    assert len(resp) == 4 * 3
    b1_29 = resp[("service", "svc-b1", d("2026-03-29"))]
    assert (b1_29["incidents_created"], b1_29["incidents_resolved"], b1_29["open_at_end_of_day"]) == (1, 1, 0)
    assert_stats(b1_29, "mtta", 1, 600, 600, 600)
    assert_stats(b1_29, "mttr", 1, 79_200, 79_200, 79_200)
    # b-late: created and resolved on local 03-30 (UTC 03-29): TTA 900, TTR 1800
    b1_30 = resp[("service", "svc-b1", d("2026-03-30"))]
    assert (b1_30["incidents_created"], b1_30["incidents_resolved"]) == (1, 1)
    assert_stats(b1_30, "mtta", 1, 900, 900, 900)
    assert_stats(b1_30, "mttr", 1, 1800, 1800, 1800)
    # b-first: local 03-28 (UTC 03-27), no log entries -> MTTA NULL, TTR 1800
    eu_28 = resp[("team", "eu", d("2026-03-28"))]
    assert (eu_28["incidents_created"], eu_28["incidents_resolved"], eu_28["open_at_end_of_day"]) == (1, 1, 0)
    assert_stats(eu_28, "mtta", 0, None)
    assert_stats(eu_28, "mttr", 1, 1800, 1800, 1800)
    # end of local 03-28 = 03-28T23:00Z: b-dst (23:30Z) is not open yet
    org_29 = resp[("org", "org", d("2026-03-29"))]
    assert (org_29["incidents_created"], org_29["incidents_resolved"]) == (1, 1)


# ---------------------------------------------------------------------------------------------------
# Scenario C: incremental builds. Europe/Berlin, Jira incidents on.
#   step 1: run_date 2026-05-10, as_of 2026-05-10T10:00Z, everything loaded at 2026-05-10T09:00Z -> full build
#   step 2: run_date 2026-05-12, as_of 2026-05-12T10:00Z, changes loaded at 2026-05-12T09:00Z -> incremental
#   then the same final raw data in a copy of the warehouse is built with --full-refresh; every row of
#   every mart must be identical.
# The incremental build must recompute from 2026-03-20: c-ack-late (created 03-20) got an acknowledgement
# at 05-10 12:00, loaded in step 1 but after step 1's as_of, so its MTTA on 03-20 changes without any new
# load. The other changes start later: c-old 03-25 (late update), c-mid 04-10 (late log entry), OPS-1 04-20
# (Jira issue no longer an incident), and the trailing 30 days (04-13 ..). 03-01 .. 03-19 stay untouched.
# ---------------------------------------------------------------------------------------------------
C_STEP1_VARS = {
    "run_date": "2026-05-10",
    "as_of": "2026-05-10T10:00:00Z",
    "reporting_timezone": "Europe/Berlin",
    "default_slo_target_pct": 99.9,
    "downtime_urgencies": ["high"],
    "downtime_priorities": [],
    "jira_incident_issue_types": ["Incident"],
    "security_incident_service_ids": ["svc-c-web"],
    "security_incident_types": ["security"],
    "security_incident_title_pattern": "breach",
}
C_STEP2_VARS = {**C_STEP1_VARS, "run_date": "2026-05-12", "as_of": "2026-05-12T10:00:00Z"}
C_LOADED_1 = datetime(2026, 5, 10, 9, tzinfo=UTC)
C_LOADED_2 = datetime(2026, 5, 12, 9, tzinfo=UTC)
C_API = ("svc-c-api", "C API")
C_DB = ("svc-c-db", "C DB")
SECURITY = {"name": "security"}  # a PagerDuty incident type
C_WEB = ("svc-c-web", "C Web")
C_MARTS = {
    "mart_availability_daily": ("day", "service_id"),
    "mart_incident_response_daily": ("day", "scope_type", "scope_id"),
    "mart_availability_rollup_daily": ("day", "scope_type", "scope_id"),
    "fct_incidents": ("incident_id",),
    "fct_security_incidents": ("incident_id",),
    "mart_security_incidents_daily": ("day", "scope_type", "scope_id"),
    "mart_downtime_cost_daily": ("day", "scope_type", "scope_id"),
}
C_PRICES = [("svc-c-api", 1.0, None)]  # replaced whole by every load, like the service mapping


def ops_issue(issue_id: str, key: str, created: str, resolved: str | None, updated: str, issuetype: str):
    return h.jira_issue(
        issue_id,
        key,
        jira_ts(created),
        jira_ts(updated),
        jira_ts(resolved) if resolved else None,
        issuetype=issuetype,
        priority="High",
    )


def scenario_c_step1() -> h.RawData:
    inc = h.pd_incident
    return h.RawData(
        pagerduty_services=[h.pd_service(sid, name) for sid, name in (C_API, C_DB, C_WEB)],
        pagerduty_incidents=[
            inc("c-first", C_DB, "2026-03-01T12:00:00Z", "2026-03-01T12:30:00Z"),
            inc("c-early", C_WEB, "2026-03-10T12:00:00Z", "2026-03-10T13:00:00Z"),
            inc("c-ack-late", C_WEB, "2026-03-20T12:00:00Z", None, status="acknowledged"),
            # a security incident by its title until step 2 renames it
            {**inc("c-old", C_API, "2026-03-25T12:00:00Z", "2026-03-25T13:00:00Z", urgency="low"),
             "title": "Data breach suspected"},
            inc("c-mid", C_WEB, "2026-04-10T12:00:00Z", "2026-04-10T14:00:00Z"),
            {**inc("c-open", C_API, "2026-05-09T20:00:00Z", None, status="triggered"), "incident_type": SECURITY},
            # created after step 1's as_of but already loaded: only step 2 may count it
            inc("c-future", C_DB, "2026-05-10T18:00:00Z", "2026-05-10T19:00:00Z"),
            # resolved after step 1's as_of (12:00 > 10:00) but already loaded, and no log entries: open at
            # step 1, resolved at step 2 without any reload
            inc("c-open-2", C_DB, "2026-05-05T12:00:00Z", "2026-05-10T12:00:00Z", urgency="low"),
        ],
        pagerduty_log_entries=[
            *lifecycle(
                "c-first", "2026-03-01T12:00:00Z", ack="2026-03-01T12:05:00Z", resolves=("2026-03-01T12:30:00Z",)
            ),
            *lifecycle(
                "c-early", "2026-03-10T12:00:00Z", ack="2026-03-10T12:02:00Z", resolves=("2026-03-10T13:00:00Z",)
            ),
            # acknowledged long after creation, after step 1's as_of (10:00)
            *lifecycle("c-ack-late", "2026-03-20T12:00:00Z", ack="2026-05-10T12:00:00Z"),
            *lifecycle("c-old", "2026-03-25T12:00:00Z", ack="2026-03-25T12:10:00Z", resolves=("2026-03-25T13:00:00Z",)),
            *lifecycle("c-mid", "2026-04-10T12:00:00Z", resolves=("2026-04-10T14:00:00Z",)),
            *lifecycle("c-open", "2026-05-09T20:00:00Z"),
            *lifecycle("c-future", "2026-05-10T18:00:00Z", resolves=("2026-05-10T19:00:00Z",)),
        ],
        jira_issues=[
            ops_issue("30001", "OPS-1", "2026-04-20T09:00", "2026-04-20T10:00", "2026-04-20T10:00", "Incident"),
            ops_issue("30002", "OPS-2", "2026-04-25T09:00", None, "2026-04-25T09:00", "Incident"),
        ],
        config_services=[("svc-c-api", "payments", 99.9), ("svc-c-db", "payments", None), ("svc-c-web", "web", None)],
        config_service_prices=C_PRICES,
    )


def scenario_c_step2() -> h.RawData:
    """Only what the loader would merge in step 2 (rows replace rows with the same key)."""
    inc = h.pd_incident
    return h.RawData(
        pagerduty_incidents=[
            # late-arriving update of an old incident: reopened at 14:00, resolved again 15:00, now high urgency
            inc("c-old", C_API, "2026-03-25T12:00:00Z", "2026-03-25T15:00:00Z"),
            # the open incident is resolved (after step 1's as_of)
            {**inc("c-open", C_API, "2026-05-09T20:00:00Z", "2026-05-10T15:00:00Z"), "incident_type": SECURITY},
            inc("c-new-1", C_WEB, "2026-05-11T12:00:00Z", "2026-05-11T13:00:00Z"),
            inc("c-new-2", C_API, "2026-05-12T08:00:00Z", None, status="acknowledged", urgency="low"),
        ],
        pagerduty_log_entries=[
            h.pd_log_entry("c-old-reopen", "trigger_log_entry", "c-old", "2026-03-25T14:00:00Z"),
            h.pd_log_entry("c-old-resolve-2", "resolve_log_entry", "c-old", "2026-03-25T15:00:00Z"),
            # a log entry of 04-10 that arrives only now
            h.pd_log_entry("c-mid-ack", "acknowledge_log_entry", "c-mid", "2026-04-10T12:30:00Z"),
            h.pd_log_entry("c-open-resolve", "resolve_log_entry", "c-open", "2026-05-10T15:00:00Z"),
            *lifecycle(
                "c-new-1", "2026-05-11T12:00:00Z", ack="2026-05-11T12:01:00Z", resolves=("2026-05-11T13:00:00Z",)
            ),
            *lifecycle("c-new-2", "2026-05-12T08:00:00Z", ack="2026-05-12T08:30:00Z"),
        ],
        # OPS-1 was re-typed: it is no longer an incident and must leave 04-20
        jira_issues=[ops_issue("30001", "OPS-1", "2026-04-20T09:00", "2026-04-20T10:00", "2026-05-11T09:00", "Task")],
        config_services=[("svc-c-api", "payments", 99.9), ("svc-c-db", "payments", None), ("svc-c-web", "web", None)],
        config_service_prices=C_PRICES,
    )


def table_rows(wh: Path, table: str) -> list[tuple[Any, ...]]:
    keys = ", ".join(C_MARTS[table])
    con_rows = h.query(wh, f"select * from marts.{table} order by {keys}")
    return [tuple(r.items()) for r in con_rows]


def state_of(wh: Path, table: str) -> dict[str, Any]:
    rows = h.query(wh, "select comment from duckdb_tables() where schema_name = 'marts' and table_name = ?", [table])
    return json.loads(rows[0]["comment"])


@pytest.fixture(scope="module")
def incremental_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("dbt_incremental")
    wh = work / "warehouse.duckdb"
    h.create_warehouse(wh, scenario_c_step1(), loaded_at=C_LOADED_1)
    h.check_dbt_build(wh, C_STEP1_VARS, work / "step1", AREA)
    step1 = {t: table_rows(wh, t) for t in C_MARTS}
    state1 = {t: state_of(wh, t) for t in ("mart_availability_daily", "mart_incident_response_daily", "fct_incidents")}

    h.load_raw(wh, scenario_c_step2(), loaded_at=C_LOADED_2, batch_id="step-2")
    step2_log = h.check_dbt_build(wh, C_STEP2_VARS, work / "step2", AREA).stdout

    full = work / "full_refresh.duckdb"
    shutil.copyfile(wh, full)
    h.check_dbt_build(full, C_STEP2_VARS, work / "full", [*AREA, "--full-refresh"])
    return {"wh": wh, "full": full, "step1": step1, "state1": state1, "step2_log": step2_log}


def test_incremental_first_build_is_full(incremental_run: dict[str, Any]) -> None:
    assert {s["recomputed_from"] for s in incremental_run["state1"].values()} == {"all"}
    assert len(incremental_run["state1"]) == 3
    # c-future (created after as_of) is not there yet; c-ack-late is unacknowledged at step 1's as_of
    fct = {dict(r)["incident_id"]: dict(r) for r in incremental_run["step1"]["fct_incidents"]}
    assert "c-future" not in fct
    assert fct["c-ack-late"]["acknowledged_at"] is None


@pytest.mark.parametrize("table", ["mart_availability_daily", "mart_incident_response_daily"])
def test_incremental_build_recomputes_only_from_the_earliest_affected_day(
    incremental_run: dict[str, Any], table: str
) -> None:
    state = state_of(incremental_run["wh"], table)
    assert (state["recomputed_from"], state["run_date"]) == ("2026-03-20", "2026-05-12")
    # which rule asked for which first day (from_day is the earliest of them)
    assert state["recompute_bounds"] == {
        "trailing_window": "2026-04-13",  # run_date 05-12 - 29 days
        "previous_run": "2026-05-11",  # step 1's run_date + 1
        "previous_as_of": "2026-05-10",  # local day of step 1's as_of
        "pagerduty_incidents": "2026-03-25",  # reloaded records: c-old (03-25), c-open (05-09), new ones
        "pagerduty_log_entries": "2026-03-20",  # c-ack-late's ack is after step 1's as_of; c-mid's late entry 04-10
        "jira_issues": "2026-04-20",  # OPS-1 re-typed
    }
    assert int(state["watermark_us"]) == int(C_LOADED_2.timestamp()) * 1_000_000
    assert f"{table}: recomputing days from 2026-03-20" in incremental_run["step2_log"]


def test_incremental_fct_recomputes_changed_incidents_only(incremental_run: dict[str, Any]) -> None:
    state = state_of(incremental_run["wh"], "fct_incidents")
    assert (state["recomputed_from"], state["run_date"]) == ("changes", "2026-05-12")
    assert "fct_incidents: recomputing the incidents changed since the last build" in incremental_run["step2_log"]


@pytest.mark.parametrize("table", sorted(C_MARTS))
def test_incremental_equals_full_refresh(incremental_run: dict[str, Any], table: str) -> None:
    incremental = table_rows(incremental_run["wh"], table)
    full = table_rows(incremental_run["full"], table)
    assert len(incremental) == len(full)
    for inc_row, full_row in zip(incremental, full, strict=True):
        assert inc_row == full_row
    assert state_of(incremental_run["full"], "mart_availability_daily")["recomputed_from"] == "all"


def test_incremental_changes_landed(incremental_run: dict[str, Any]) -> None:
    """The second build really picked the changes up (so equality above is not equality of stale tables)."""
    wh = incremental_run["wh"]
    fct = by_key(h.query(wh, "select * from marts.fct_incidents"), "incident_id")
    # late acknowledgement: 03-20 12:00Z -> 05-10 12:00Z = 11 + 30 + 10 = 51 days = 4 406 400 s
    assert fct["c-ack-late"]["tta_s"] == 4_406_400.0
    # c-old: reopened; TTR to the last resolution 15:00 = 3 h; now high urgency -> 3 h downtime on 03-25
    assert (fct["c-old"]["ttr_s"], fct["c-old"]["reopen_count"], fct["c-old"]["is_downtime"]) == (10_800.0, 1, True)
    assert avail(wh, "svc-c-api", "2026-03-25")["downtime_s"] == 10_800.0
    # c-open resolved 05-10 15:00Z (17:00 CEST): 19 h after 05-09 20:00Z
    assert (fct["c-open"]["ttr_s"], fct["c-open"]["is_open"]) == (68_400.0, False)
    assert "jira:OPS-1" not in fct and "jira:OPS-2" in fct and "c-future" in fct
    # open at step 1 (resolved only at 05-10 12:00Z > as_of 10:00Z), resolved at step 2: 5 days = 432 000 s
    assert (fct["c-open-2"]["ttr_s"], fct["c-open-2"]["is_open"]) == (432_000.0, False)
    resp = by_key(h.query(wh, "select * from marts.mart_incident_response_daily"), "scope_type", "scope_id", "day")
    assert resp[("service", "jira:OPS", d("2026-04-20"))]["incidents_created"] == 0
    assert_stats(resp[("service", "svc-c-web", d("2026-03-20"))], "mtta", 1, 4_406_400, 4_406_400, 4_406_400)
    assert_stats(resp[("service", "svc-c-web", d("2026-04-10"))], "mtta", 1, 1800, 1800, 1800)
    # 03-01 .. 05-12 = 31 + 30 + 12 = 73 days x (3 services + jira:OPS, teams payments / web / unassigned, org)
    days = (date(2026, 5, 12) - date(2026, 3, 1)).days + 1
    assert days == 73
    assert len(resp) == (4 + 3 + 1) * days
    # rows before the recomputed window are the step-1 rows, untouched
    step1_early = [r for r in incremental_run["step1"]["mart_availability_daily"] if dict(r)["day"] < d("2026-03-20")]
    now_early = [r for r in table_rows(wh, "mart_availability_daily") if dict(r)["day"] < d("2026-03-20")]
    assert step1_early == now_early and len(now_early) == 3 * 19


# Step 3 (on a copy of the step-2 warehouse): the team mapping changes and the run goes back one day
# (run_date 05-11, as_of 05-11T10:00Z, earlier than step 2's). Both invalidate what is stored, so the build
# must recompute everything: the pre-hook empties the tables, days after the new run_date disappear, and
# every row carries the new team.
C_STEP3_VARS = {**C_STEP1_VARS, "run_date": "2026-05-11", "as_of": "2026-05-11T10:00:00Z"}


@pytest.fixture(scope="module")
def rebuild_run(incremental_run: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("dbt_rebuild")
    wh = work / "warehouse.duckdb"
    shutil.copyfile(incremental_run["wh"], wh)
    config = [("svc-c-api", "payments", 99.9), ("svc-c-db", "payments", None), ("svc-c-web", "platform", None)]
    h.load_raw(wh, h.RawData(config_services=config, config_service_prices=C_PRICES), loaded_at=C_LOADED_2,
               batch_id="step-3")
    h.check_dbt_build(wh, C_STEP3_VARS, work / "step3", AREA)
    return wh


def test_rebuild_when_config_changes_and_as_of_moves_back(rebuild_run: Path) -> None:
    for table in ("mart_availability_daily", "mart_incident_response_daily", "fct_incidents"):
        assert state_of(rebuild_run, table)["recomputed_from"] == "all"
    days = h.query(
        rebuild_run, "select min(day) d0, max(day) d1, count(distinct day) n from marts.mart_availability_daily"
    )
    assert days == [{"d0": date(2026, 3, 1), "d1": date(2026, 5, 11), "n": 72}]
    teams = h.query(
        rebuild_run, "select distinct team from marts.mart_availability_daily where service_id = 'svc-c-web'"
    )
    assert teams == [{"team": "platform"}]
    resp_teams = {
        r["scope_id"]
        for r in h.query(
            rebuild_run, "select distinct scope_id from marts.mart_incident_response_daily where scope_type = 'team'"
        )
    }
    assert resp_teams == {"payments", "platform", "unassigned"}
    # 05-11 is the last day now: c-new-1 (created 05-11 12:00Z) is after as_of (10:00Z) and gone again
    fct = by_key(h.query(rebuild_run, "select * from marts.fct_incidents"), "incident_id")
    assert "c-new-1" not in fct and "c-new-2" not in fct
    assert fct["c-mid"]["team"] == "platform"


# ---------------------------------------------------------------------------------------------------
# Security incidents (fct_security_incidents, mart_security_incidents_daily) and downtime cost over time.
# Scenario A's rules: service svc-api, incident type "Security" (low-1 carries "security"), priority "p1" (mid-1's
# reference says "P1"), title pattern ^INCIDENT (OV-B|P-DB-1)$ (case-insensitive), Jira type "bug" (OPS-2).
# ---------------------------------------------------------------------------------------------------
A_SECURITY = {
    # contract case 1: ov-a on the service, p-db-1 by its title only, ov-b by both -> service (the first rule)
    "ov-a": "service", "ov-b": "service", "p-db-1": "title",
    "reo-1": "service", "p-api-1": "service", "mid-1": "priority", "low-1": "incident_type",
    "jira:OPS-2": "jira_issue_type",  # a Bug: a security incident although not an incident of fct_incidents
}


@pytest.fixture(scope="module")
def sec(a_wh: Path) -> dict[tuple[str, str, date], dict[str, Any]]:
    rows = h.query(a_wh, "select * from marts.mart_security_incidents_daily")
    return by_key(rows, "scope_type", "scope_id", "day")


def test_security_incidents_record_the_first_matching_rule(a_wh: Path) -> None:
    fct = by_key(h.query(a_wh, "select * from marts.fct_security_incidents"), "incident_id")
    assert {k: r["security_match"] for k, r in fct.items()} == A_SECURITY
    assert (fct["jira:OPS-2"]["service_id"], fct["jira:OPS-2"]["team"], fct["jira:OPS-2"]["is_open"]) == (
        "jira:OPS", "web", True)
    assert (fct["ov-b"]["tta_s"], fct["ov-b"]["ttr_s"], fct["low-1"]["incident_type"]) == (600.0, 5400.0, "security")


def test_security_reopened_incident_ttr_to_last_resolution(sec: dict) -> None:
    # contract case 4 (at 08:00 instead of 10:00): resolved 09:00, retriggered 10:00, resolved 11:00 -> TTR 10 800 s
    # on 03-05, and not open at the end of the day
    row = sec[("service", "svc-api", d("2026-03-05"))]
    assert (row["security_incidents_created"], row["security_incidents_resolved"], row["security_incidents_open"]) == (
        1, 1, 0)
    assert_stats(row, "mttr", 1, 10_800, 10_800, 10_800)


def test_security_low_urgency_counts_and_adds_no_downtime(a_wh: Path, sec: dict) -> None:
    # contract case 3: low-1 (low urgency) is created on 03-06 (TTA 1800) but svc-batch has no downtime
    row = sec[("team", "unassigned", d("2026-03-06"))]
    assert row["security_incidents_created"] == 1
    assert_stats(row, "mtta", 1, 1800, 1800, 1800)
    assert avail(a_wh, "svc-batch", "2026-03-06")["downtime_s"] == 0


def test_security_figures_pool_the_subset(sec: dict) -> None:
    # svc-api 03-02: ov-a (TTA 300, TTR 3600), ov-b (600, 5400): means 450 / 4500, p90 300 + 0.9 x 300 = 570,
    # 3600 + 0.9 x 1800 = 5220
    api = sec[("service", "svc-api", d("2026-03-02"))]
    assert_stats(api, "mtta", 2, 450, 450, 570)
    assert_stats(api, "mttr", 2, 4500, 4500, 5220)
    # payments 03-08: p-api-1 (1200, 3600) and p-db-1 (60, 600); the other p-db-* are not security incidents
    pay = sec[("team", "payments", d("2026-03-08"))]
    assert pay["security_incidents_created"] == 2
    assert_stats(pay, "mtta", 2, 630, 630, 60 + 0.9 * 1140)
    assert_stats(pay, "mttr", 2, 2100, 2100, 600 + 0.9 * 3000)
    # mid-1 open over the end of 03-03; 03-04: mid-1 resolved (9000 s), OPS-2 created (no acknowledgement) and open
    assert sec[("org", "org", d("2026-03-03"))]["security_incidents_open"] == 1
    org = sec[("org", "org", d("2026-03-04"))]
    assert (org["security_incidents_created"], org["security_incidents_resolved"], org["security_incidents_open"]) == (
        1, 1, 1)
    assert_stats(org, "mtta", 0, None)
    assert_stats(org, "mttr", 1, 9000, 9000, 9000)
    # the last day ends at as_of: OPS-2 still open; open-1 / late-ack are not security incidents
    assert sec[("org", "org", d("2026-03-10"))]["security_incidents_open"] == 1
    # dense like mart_incident_response_daily: 10 scopes x 10 days; 8 incidents created in all (org)
    assert len(sec) == A_SCOPES * A_DAYS
    assert sum(r["security_incidents_created"] for (t, _, _), r in sec.items() if t == "org") == len(A_SECURITY)


def test_downtime_cost_of_overlapping_incidents(a_wh: Path) -> None:
    # contract §5 case 1: price 2/min, ov-a 10:00-11:00 and ov-b 10:30-12:00 -> union 7200 s, cost 240
    rows = h.query(a_wh, "select * from marts.mart_downtime_cost_daily where scope_id in ('svc-api', 'payments')"
                         " and day = '2026-03-02' order by scope_type")
    assert [(r["scope_type"], r["downtime_s"], r["downtime_cost"], r["cost_coverage_pct"]) for r in rows] == [
        ("service", 7200.0, pytest.approx(240, **APPROX), 100.0), ("team", 7200.0, pytest.approx(240, **APPROX), 100.0)]


def test_security_area_off_has_no_rows(b_wh: Path) -> None:
    # contract case 5: scenario B configures no rule -> no rows (not zeros)
    for table in ("fct_security_incidents", "mart_security_incidents_daily"):
        assert h.query(b_wh, f"select count(*) n from marts.{table}") == [{"n": 0}], table


def c_rows(rows: list[tuple[Any, ...]]) -> dict[Any, dict[str, Any]]:
    as_dicts = [dict(r) for r in rows]
    keys = ("incident_id",) if "incident_id" in as_dicts[0] else ("scope_type", "scope_id", "day")
    return by_key(as_dicts, *keys)


def test_security_incidents_follow_late_changes(incremental_run: dict[str, Any]) -> None:
    step1 = c_rows(incremental_run["step1"]["fct_security_incidents"])
    now = by_key(h.query(incremental_run["wh"], "select * from marts.fct_security_incidents"), "incident_id")
    # contract case 2: c-old matched its title "Data breach suspected"; renamed in step 2, it drops out
    assert (step1["c-old"]["security_match"], "c-old" in now) == ("title", False)
    # c-open (incident type "security"), open at step 1, resolved 05-10 15:00Z: TTR 19 h on local 05-10
    assert (step1["c-open"]["is_open"], now["c-open"]["ttr_s"], now["c-open"]["security_match"]) == (
        True, 68_400.0, "incident_type")
    assert sorted(now) == ["c-ack-late", "c-early", "c-mid", "c-new-1", "c-open"]
    day1 = c_rows(incremental_run["step1"]["mart_security_incidents_daily"])
    mart = by_key(h.query(incremental_run["wh"], "select * from marts.mart_security_incidents_daily"),
                  "scope_type", "scope_id", "day")
    api_10 = ("service", "svc-c-api", d("2026-05-10"))
    assert (day1[api_10]["security_incidents_open"], mart[api_10]["security_incidents_open"]) == (1, 0)
    assert_stats(mart[api_10], "mttr", 1, 68_400, 68_400, 68_400)
    old_day = ("org", "org", d("2026-03-25"))
    assert (day1[old_day]["security_incidents_created"], mart[old_day]["security_incidents_created"]) == (1, 0)
    # c-ack-late's acknowledgement (after step 1's as_of) reaches its creation day 03-20
    web_20 = ("service", "svc-c-web", d("2026-03-20"))
    assert (day1[web_20]["mtta_sample_size"], mart[web_20]["mtta_s_mean"]) == (0, 4_406_400.0)


def test_downtime_cost_grows_with_late_resolutions(incremental_run: dict[str, Any]) -> None:
    # svc-c-api at 1/min. c-open since 05-09 20:00Z; local 05-10 (Berlin) starts 05-09 22:00Z.
    # step 1 (as_of 05-10 10:00Z): 05-09 120 min, 05-10 720 min; step 2 (resolved 15:00Z): 05-10 1020 min.
    # c-old turned high urgency in step 2: 03-25 12:00-15:00Z costs 180 where step 1 had 0.
    day1 = c_rows(incremental_run["step1"]["mart_downtime_cost_daily"])
    now = by_key(h.query(incremental_run["wh"], "select * from marts.mart_downtime_cost_daily"),
                 "scope_type", "scope_id", "day")
    for day, before, after in (("2026-05-09", 120, 120), ("2026-05-10", 720, 1020), ("2026-03-25", 0, 180)):
        key = ("service", "svc-c-api", d(day))
        assert (day1[key]["downtime_cost"], now[key]["downtime_cost"]) == (
            pytest.approx(before, **APPROX), pytest.approx(after, **APPROX)), day
    # team payments 05-10: api priced, db unpriced and down (c-future 05-10 18:00-19:00Z, after step 1's as_of)
    pay = now[("team", "payments", d("2026-05-10"))]
    assert (pay["downtime_cost"], pay["cost_coverage_pct"]) == (
        pytest.approx(1020, **APPROX), pytest.approx(100 * 61_200 / (61_200 + 3600), **APPROX))


def test_backfill_of_a_past_day_rebuilds_security_and_cost(rebuild_run: Path) -> None:
    # step 3 goes back to run_date 05-11 (as_of 10:00Z) with svc-c-web moved to team platform
    sec_days = h.query(rebuild_run, "select max(day) d1 from marts.mart_security_incidents_daily")
    cost_days = h.query(rebuild_run, "select max(day) d1 from marts.mart_downtime_cost_daily")
    assert sec_days == cost_days == [{"d1": date(2026, 5, 11)}]
    fct = by_key(h.query(rebuild_run, "select * from marts.fct_security_incidents"), "incident_id")
    assert "c-new-1" not in fct and fct["c-mid"]["team"] == "platform"
    platform = h.query(rebuild_run, "select sum(security_incidents_created) n from marts.mart_security_incidents_daily"
                       " where scope_type = 'team' and scope_id = 'platform'")
    assert platform == [{"n": 3}]  # c-early, c-ack-late, c-mid
    api = h.query(rebuild_run, "select downtime_cost from marts.mart_downtime_cost_daily"
                  " where scope_type = 'service' and scope_id = 'svc-c-api' and day = '2026-05-10'")
    assert api == [{"downtime_cost": pytest.approx(1020, **APPROX)}]


# --- a history window that starts during a day (issue 18, complete grids) ---------------------------------------
# A first run at 2026-03-03 12:00 (as_of: `opskpi run` of today) with 2 days of history read the incidents created
# from 03-01 12:00 (meta.stream_coverage.window_start): 03-01's morning was never read, so 03-01 is no complete day
# and the grid starts on 03-02. i0 (03-01 13:00, inside the window) is read but counts on no published day.
WINDOW_VARS = {**A_VARS, "run_date": "2026-03-03", "as_of": "2026-03-03T12:00:00Z", "jira_incident_issue_types": []}


def test_a_window_starting_during_a_day_publishes_from_the_next_day(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    h.create_warehouse(warehouse, h.RawData(
        pagerduty_services=[h.pd_service(*API)],
        pagerduty_incidents=[h.pd_incident("i0", API, "2026-03-01T13:00:00Z", "2026-03-01T14:00:00Z", number=1),
                             h.pd_incident("i1", API, "2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z", number=2),
                             h.pd_incident("i2", API, "2026-03-03T09:00:00Z", "2026-03-03T09:20:00Z", number=3)],
        config_services=[("svc-api", "payments", None)]))
    with duckdb.connect(str(warehouse)) as con:
        ensure_meta(con)
        con.execute("insert into meta.stream_coverage values ('pagerduty', 'incidents', '', 'ok', null, null, 3, "
                    "timestamptz '2026-03-01 12:00:00+00', timestamptz '2026-03-03 12:00:00+00', 'r1', 'b1', now())")
    h.check_dbt_build(warehouse, WINDOW_VARS, tmp_path, AREA)
    for mart in ("mart_incident_response_daily", "mart_availability_daily"):
        days = [r["day"] for r in h.query(warehouse, f"select distinct day from marts.{mart} order by day")]
        assert days == [d("2026-03-02"), d("2026-03-03")], mart
    # the org's incidents: i1 on 03-02, i2 on 03-03; i0's day is not published (absent, not 0)
    created = {r["day"]: r["incidents_created"] for r in h.query(
        warehouse, "select day, incidents_created from marts.mart_incident_response_daily where scope_type = 'org'")}
    assert created == {d("2026-03-02"): 1, d("2026-03-03"): 1}
