"""Availability marts (dbt) on hand-built PagerDuty data, checked against numbers worked out by hand.

dbt runs once per scenario (module-scoped fixtures); every edge case lives on its own service.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

try:  # tests/integration as a package
    from . import dbt_harness as h
except ImportError:  # rootdir-relative (no __init__.py in tests/integration)
    import dbt_harness as h  # type: ignore[no-redef]

pytestmark = pytest.mark.skipif(not h.dbt_executable().exists(), reason="dbt is not installed in this venv")
AREA = h.area("+mart_availability_daily", "+mart_availability_rollup_daily", "+stg_pagerduty__incidents",
              "+stg_jira__issues", "+stg_github__pulls", "+int_downtime_intervals_merged", "+mart_downtime_cost_daily")

APPROX = {"rel": 1e-9, "abs": 1e-9}
DAY = 86_400

# ---------------------------------------------------------------------------------------------------
# Scenario 1: reporting_timezone UTC, run_date 2026-01-10, as_of 2026-01-10T18:00:00Z.
# Earliest incident 2025-12-01 (low urgency) -> window 2025-12-01 .. 2026-01-10 = 31 + 10 = 41 days.
# ---------------------------------------------------------------------------------------------------
UTC_VARS = {
    "run_date": "2026-01-10",
    "as_of": "2026-01-10T18:00:00Z",
    "reporting_timezone": "UTC",
    "default_slo_target_pct": 99.95,
    "downtime_urgencies": ["high"],
    "downtime_priorities": ["P1"],
}
OVERLAP = ("svc-overlap", "Checkout API")
MIDNIGHT = ("svc-midnight", "Payments Worker")
BUDGET = ("svc-budget", "Ledger")
OPEN = ("svc-open", "Search Indexer")
LOW = ("svc-low", "Docs Site")
QUIET = ("svc-quiet", "Status Page")
PRIO = ("svc-prio", "Search API")
UNMAPPED = ("svc-unmapped", "Billing Export")
GHOST = ("svc-ghost", "Legacy Cron")  # never in the service list, only on an incident
UTC_SERVICES = [OVERLAP, MIDNIGHT, BUDGET, OPEN, LOW, QUIET, PRIO, UNMAPPED, GHOST]
UTC_DAYS = 41


def utc_data() -> h.RawData:
    inc = h.pd_incident
    incidents = [
        # earliest incident of all (low urgency): opens the data window on 2025-12-01
        inc("low-1", LOW, "2025-12-01T09:00:00Z", "2025-12-01T10:00:00Z", urgency="low"),
        inc("low-2", LOW, "2026-01-10T08:00:00Z", "2026-01-10T09:00:00Z", urgency="low"),
        # overlap: A covers 10:00-12:00, B 11:00-12:30 (same hour 11-12 as A), C nested in A
        inc("ovl-a", OVERLAP, "2026-01-05T10:00:00Z", "2026-01-05T12:00:00Z"),
        inc("ovl-b", OVERLAP, "2026-01-05T11:00:00Z", "2026-01-05T12:30:00Z"),
        inc("ovl-c", OVERLAP, "2026-01-05T10:10:00Z", "2026-01-05T10:20:00Z"),
        # spans midnight; created with a +01:00 offset (= 22:00Z)
        inc("mid-1", MIDNIGHT, "2026-01-07T23:00:00+01:00", "2026-01-08T03:00:00Z"),
        # open since 20:00Z on 01-09, clipped at as_of; a second one created after as_of is ignored
        inc("open-1", OPEN, "2026-01-09T20:00:00Z", None, status="acknowledged"),
        inc("open-late", OPEN, "2026-01-10T19:00:00Z", "2026-01-10T20:00:00Z"),
        # low urgency but priority P1 (a priority *reference*: summary only) -> downtime; P3 -> not
        inc(
            "prio-1",
            PRIO,
            "2026-01-09T06:00:00Z",
            "2026-01-09T07:00:00Z",
            urgency="low",
            priority={"id": "PP1", "type": "priority_reference", "summary": "P1"},
        ),
        inc(
            "prio-3",
            PRIO,
            "2026-01-09T12:00:00Z",
            "2026-01-09T13:00:00Z",
            urgency="low",
            priority={"id": "PP3", "type": "priority", "summary": "P3", "name": "P3"},
        ),
        inc("unm-1", UNMAPPED, "2026-01-10T00:00:00Z", "2026-01-10T00:36:00Z"),
        # old-style payload without resolved_at: TTR from last_status_change_at
        inc(
            "ghost-1",
            GHOST,
            "2026-01-02T05:00:00Z",
            "2026-01-02T05:30:00Z",
            urgency="low",
            omit_resolved_at=True,
        ),
        # error budget service (SLO 99.9)
        inc("bud-1", BUDGET, "2025-12-05T00:00:00Z", "2025-12-05T00:10:00Z"),
        inc("bud-2", BUDGET, "2025-12-20T12:00:00Z", "2025-12-20T12:15:00Z"),
        inc("bud-3", BUDGET, "2026-01-08T08:00:00Z", "2026-01-08T08:05:00Z"),
    ]
    return h.RawData(
        pagerduty_services=[h.pd_service(sid, name) for sid, name in UTC_SERVICES if sid != GHOST[0]],
        pagerduty_incidents=incidents,
        jira_issues=[
            h.jira_issue(
                "10068",
                "EX-42",
                "2024-01-02T10:11:12.000-0800",
                "2024-01-03T08:00:05.123+0000",
                None,
                labels=["backend", "p1"],
            ),
            h.jira_issue(
                "10069",
                "EX-43",
                "2024-01-05T09:00:00.000+0530",
                "2024-01-06T10:00:00.000+0000",
                "2024-01-06T10:00:00.000+0000",
                status=("Done", "done"),
                priority=None,
            ),
        ],
        github_pulls=[
            (
                "octo-org/octo-repo",
                h.github_pull(
                    1347,
                    "2024-01-02T10:11:12Z",
                    "2024-01-03T08:00:05Z",
                    state="closed",
                    closed_at="2024-01-03T08:00:05Z",
                    merged_at="2024-01-03T08:00:05Z",
                    labels=["bug"],
                ),
            ),
            (
                "octo-org/octo-repo",
                h.github_pull(
                    1348,
                    "2024-01-04T10:00:00Z",
                    "2024-01-04T11:00:00Z",
                    labels=["hotfix", "infra"],
                    draft=True,
                ),
            ),
            ("octo-org/other-repo", h.github_pull(1347, "2024-01-05T10:00:00Z", "2024-01-05T10:00:00Z")),
        ],
        config_services=[
            ("svc-overlap", "payments", 99.9),
            ("svc-midnight", "payments", 99.5),
            ("svc-budget", "payments", 99.9),
            ("svc-open", "platform", 99.9),
            ("svc-low", "platform", 99.9),
            ("svc-quiet", "platform", None),  # mapped, no SLO -> default
            ("svc-prio", "search", 99.9),
            ("svc-retired", "legacy", 99.0),  # configured but unknown to PagerDuty -> not reported
            # svc-unmapped, svc-ghost: not configured -> unassigned, default SLO
        ],
        # per-minute prices (cost, revenue); svc-budget, svc-unmapped, svc-ghost are unpriced, svc-prio has a
        # revenue but no cost (so it is unpriced too)
        config_service_prices=[
            ("svc-overlap", 2.0, 5.0),
            ("svc-midnight", 2.0, None),
            ("svc-open", 1.0, None),
            ("svc-low", 10.0, None),
            ("svc-quiet", 4.0, None),
            ("svc-prio", None, 3.0),
        ],
    )


@pytest.fixture(scope="module")
def utc_wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return h.build_scenario(tmp_path_factory.mktemp("dbt_utc"), utc_data(), UTC_VARS, AREA)


def row(wh: Path, service_id: str, day: str) -> dict[str, Any]:
    rows = h.query(
        wh, "select * from marts.mart_availability_daily where service_id = ? and day = ?", [service_id, day]
    )
    assert len(rows) == 1, (service_id, day, rows)
    return rows[0]


def assert_day(
    r: dict[str, Any], *, downtime: float, availability: float, count: int, length: int = DAY
) -> None:
    assert r["day_length_s"] == length
    assert r["downtime_s"] == pytest.approx(downtime, **APPROX)
    assert r["availability_pct"] == pytest.approx(availability, **APPROX)
    assert r["incident_count"] == count


def test_mart_is_dense_over_the_data_window(utc_wh: Path) -> None:
    # 9 services (8 listed + 1 seen only on incidents; svc-retired is config-only) x 41 days
    stats = h.query(
        utc_wh,
        "select count(*) n, count(distinct service_id) s, min(day) d0, max(day) d1"
        " from marts.mart_availability_daily",
    )[0]
    assert stats == {"n": 9 * UTC_DAYS, "s": 9, "d0": date(2025, 12, 1), "d1": date(2026, 1, 10)}
    assert not h.query(utc_wh, "select 1 from marts.mart_availability_daily where service_id = 'svc-retired'")


def test_overlapping_incidents_count_once(utc_wh: Path) -> None:
    # union of 10:00-12:00, 11:00-12:30, 10:10-10:20 = 10:00-12:30 = 9000 s (not 7200+5400+600 = 13200)
    # availability = 100 * (1 - 9000/86400) = 89.583333...; 3 incidents created that day
    assert_day(
        row(utc_wh, "svc-overlap", "2026-01-05"), downtime=9000, availability=100 * (1 - 9000 / DAY), count=3
    )
    merged = h.query(
        utc_wh, "select * from intermediate.int_downtime_intervals_merged where service_id = 'svc-overlap'"
    )
    assert [(m["incident_count"], m["downtime_s"]) for m in merged] == [(3, 9000.0)]


def test_day_without_incidents_is_100(utc_wh: Path) -> None:
    assert_day(row(utc_wh, "svc-overlap", "2026-01-06"), downtime=0, availability=100.0, count=0)


def test_incident_spanning_midnight_is_split(utc_wh: Path) -> None:
    # 2026-01-07T22:00Z -> 2026-01-08T03:00Z: 01-07 gets 2 h = 7200 s, 01-08 gets 3 h = 10800 s
    assert_day(
        row(utc_wh, "svc-midnight", "2026-01-07"), downtime=7200, availability=100 * (1 - 7200 / DAY), count=1
    )  # 91.6666...
    assert_day(row(utc_wh, "svc-midnight", "2026-01-08"), downtime=10800, availability=87.5, count=0)
    r = row(utc_wh, "svc-midnight", "2026-01-08")
    assert (r["team"], r["slo_target_pct"]) == ("payments", 99.5)


def test_open_incident_is_clipped_at_as_of(utc_wh: Path) -> None:
    # open since 2026-01-09T20:00Z: 01-09 -> 4 h = 14400 s (83.333...);
    # 01-10 -> 00:00..18:00 (as_of) = 64800 s -> 100 * (1 - 64800/86400) = 25.0.
    # open-late (created 19:00Z, after as_of) adds neither downtime nor count.
    assert_day(
        row(utc_wh, "svc-open", "2026-01-09"), downtime=14400, availability=100 * (1 - 14400 / DAY), count=1
    )
    assert_day(row(utc_wh, "svc-open", "2026-01-10"), downtime=64800, availability=25.0, count=0)
    stg = h.query(utc_wh, "select * from staging.stg_pagerduty__incidents where incident_id = 'open-1'")[0]
    assert stg["is_open"] is True and stg["resolved_at"] is None
    assert stg["time_to_resolve_s"] is None  # open: NULL TTR, never 0
    interval = h.query(
        utc_wh, "select * from intermediate.int_incident_downtime_intervals where service_id = 'svc-open'"
    )
    assert [(i["incident_id"], i["is_clipped_at_as_of"], i["downtime_s"]) for i in interval] == [
        ("open-1", True, 22 * 3600.0)  # 20:00Z .. next day 18:00Z
    ]
    assert interval[0]["downtime_end_at"] == datetime(2026, 1, 10, 18, tzinfo=UTC)


def test_low_urgency_is_counted_but_not_downtime(utc_wh: Path) -> None:
    assert_day(row(utc_wh, "svc-low", "2026-01-10"), downtime=0, availability=100.0, count=1)
    assert_day(row(utc_wh, "svc-low", "2025-12-01"), downtime=0, availability=100.0, count=1)


def test_priority_based_downtime(utc_wh: Path) -> None:
    # prio-1 (low, P1 in downtime_priorities) 06:00-07:00 = 3600 s; prio-3 (low, P3) is not downtime
    # availability = 100 * (1 - 3600/86400) = 95.8333...; both incidents counted
    assert_day(
        row(utc_wh, "svc-prio", "2026-01-09"), downtime=3600, availability=100 * (1 - 3600 / DAY), count=2
    )


def test_service_without_incidents_is_dense_and_100(utc_wh: Path) -> None:
    rows = h.query(
        utc_wh, "select * from marts.mart_availability_daily where service_id = 'svc-quiet' order by day"
    )
    assert len(rows) == UTC_DAYS
    assert {
        (r["availability_pct"], r["downtime_s"], r["incident_count"], r["downtime_30d_s"]) for r in rows
    } == {(100.0, 0.0, 0, 0.0)}
    assert {r["error_budget_remaining_pct"] for r in rows} == {100.0}
    # mapped to a team but without an SLO -> default_slo_target_pct
    assert {(r["team"], r["slo_target_pct"], r["service_name"]) for r in rows} == {
        ("platform", 99.95, "Status Page")
    }


def test_unmapped_service_gets_unassigned_and_default_slo(utc_wh: Path) -> None:
    # 00:00-00:36 = 2160 s -> 100 * (1 - 2160/86400) = 97.5
    r = row(utc_wh, "svc-unmapped", "2026-01-10")
    assert_day(r, downtime=2160, availability=97.5, count=1)
    assert (r["team"], r["slo_target_pct"]) == ("unassigned", 99.95)
    # budget = (1 - 0.9995) * 30 * 86400 = 1296 s; remaining = 100 * (1 - 2160/1296) = -66.666...
    assert r["error_budget_remaining_pct"] == pytest.approx(100 * (1 - 2160 / 1296), **APPROX)


def test_service_seen_only_on_incidents(utc_wh: Path) -> None:
    rows = h.query(
        utc_wh, "select * from marts.mart_availability_daily where service_id = 'svc-ghost' order by day"
    )
    assert len(rows) == UTC_DAYS
    assert {(r["team"], r["service_name"], r["slo_target_pct"]) for r in rows} == {
        ("unassigned", "Legacy Cron", 99.95)
    }
    assert_day(row(utc_wh, "svc-ghost", "2026-01-02"), downtime=0, availability=100.0, count=1)
    # payload without resolved_at: resolved time taken from last_status_change_at -> TTR 1800 s
    stg = h.query(utc_wh, "select * from staging.stg_pagerduty__incidents where incident_id = 'ghost-1'")[0]
    assert stg["time_to_resolve_s"] == 1800.0 and stg["is_open"] is False


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # window 2025-12-12..2026-01-10 (30 d = 2 592 000 s); budget = 0.001 * 2 592 000 = 2592 s = 43.2 min
        # downtime in window: bud-2 900 + bud-3 300 = 1200 -> 100 * (1 - 1200/2592) = 53.7037...
        ("2026-01-10", 100 * (1 - 1200 / 2592)),
        # window 2025-12-05..2026-01-03 (27 + 3 = 30 d) holds bud-1 600 + bud-2 900 = 1500 -> 42.1296...
        ("2026-01-03", 100 * (1 - 1500 / 2592)),
        # window 2025-12-06..2026-01-04 drops bud-1: 900 -> 65.2777...
        ("2026-01-04", 100 * (1 - 900 / 2592)),
        # start of data: window 2025-12-01..12-05 = 5 d, budget 0.001 * 432 000 = 432 s; 600 s -> -38.888...
        ("2025-12-05", 100 * (1 - 600 / 432)),
        ("2025-12-01", 100.0),
    ],
)
def test_error_budget_remaining(utc_wh: Path, day: str, expected: float) -> None:
    r = row(utc_wh, "svc-budget", day)
    assert r["slo_target_pct"] == 99.9
    assert r["error_budget_remaining_pct"] == pytest.approx(expected, **APPROX)


def test_error_budget_downtime_30d(utc_wh: Path) -> None:
    assert row(utc_wh, "svc-budget", "2026-01-10")["downtime_30d_s"] == pytest.approx(1200, **APPROX)
    assert row(utc_wh, "svc-budget", "2026-01-03")["downtime_30d_s"] == pytest.approx(1500, **APPROX)
    # overlap service: 9000 s in window vs 2592 s budget -> 100 * (1 - 9000/2592) = -247.222...
    assert row(utc_wh, "svc-overlap", "2026-01-10")["error_budget_remaining_pct"] == pytest.approx(
        100 * (1 - 9000 / 2592), **APPROX
    )


def test_rollup_team_and_org(utc_wh: Path) -> None:
    rollup = {
        (r["scope_type"], r["scope_id"]): r
        for r in h.query(
            utc_wh, "select * from marts.mart_availability_rollup_daily where day = '2026-01-05'"
        )
    }
    assert set(rollup) == {("team", t) for t in ("payments", "platform", "search", "unassigned")} | {
        ("org", "org")
    }
    # payments: overlap 89.5833, midnight 100, budget 100 -> mean (89.5833 + 200) / 3 = 96.52777...
    pay = rollup[("team", "payments")]
    assert (pay["service_count"], pay["downtime_s"]) == (3, 9000.0)
    assert pay["availability_pct"] == pytest.approx((100 * (1 - 9000 / DAY) + 200) / 3, **APPROX)
    # org: 9 services, 8 at 100 -> (800 + 89.5833) / 9 = 98.8425...
    org = rollup[("org", "org")]
    assert (org["service_count"], org["downtime_s"]) == (9, 9000.0)
    assert org["availability_pct"] == pytest.approx((800 + 100 * (1 - 9000 / DAY)) / 9, **APPROX)
    # 2026-01-10 platform: open 25.0, low 100, quiet 100 -> 75.0; downtime 64800
    plat = h.query(
        utc_wh,
        "select * from marts.mart_availability_rollup_daily"
        " where day = '2026-01-10' and scope_id = 'platform'",
    )[0]
    assert (plat["availability_pct"], plat["downtime_s"], plat["service_count"]) == (75.0, 64800.0, 3)


def test_staging_parses_records(utc_wh: Path) -> None:
    n_raw = h.query(utc_wh, "select count(*) n from raw.pagerduty__incidents")[0]["n"]
    n_stg = h.query(utc_wh, "select count(*) n from staging.stg_pagerduty__incidents")[0]["n"]
    assert n_raw == n_stg == 15
    mid = h.query(utc_wh, "select * from staging.stg_pagerduty__incidents where incident_id = 'mid-1'")[0]
    assert mid["created_at"] == datetime(2026, 1, 7, 22, tzinfo=UTC)
    assert (mid["time_to_resolve_s"], mid["service_id"], mid["urgency"], mid["status"]) == (
        18000.0,
        "svc-midnight",
        "high",
        "resolved",
    )
    prio = h.query(
        utc_wh, "select priority_name from staging.stg_pagerduty__incidents where incident_id = 'prio-1'"
    )
    assert prio == [{"priority_name": "P1"}]

    jira = {r["issue_key"]: r for r in h.query(utc_wh, "select * from staging.stg_jira__issues")}
    # '2024-01-02T10:11:12.000-0800' = 18:11:12Z; '2024-01-05T09:00:00.000+0530' = 03:30Z
    assert jira["EX-42"]["created_at"] == datetime(2024, 1, 2, 18, 11, 12, tzinfo=UTC)
    assert jira["EX-42"]["resolved_at"] is None
    assert (jira["EX-42"]["status_category"], jira["EX-42"]["labels"], jira["EX-42"]["project_key"]) == (
        "indeterminate",
        ["backend", "p1"],
        "EX",
    )
    assert jira["EX-43"]["created_at"] == datetime(2024, 1, 5, 3, 30, tzinfo=UTC)
    assert jira["EX-43"]["resolved_at"] == datetime(2024, 1, 6, 10, tzinfo=UTC)
    assert jira["EX-43"]["priority_name"] is None

    pulls = {
        (r["repo"], r["pull_number"]): r for r in h.query(utc_wh, "select * from staging.stg_github__pulls")
    }
    assert len(pulls) == 3
    merged = pulls[("octo-org/octo-repo", 1347)]
    assert merged["is_merged"] is True and merged["merged_at"] == datetime(2024, 1, 3, 8, 0, 5, tzinfo=UTC)
    assert (merged["author_login"], merged["base_ref"], merged["state"]) == ("octocat", "main", "closed")
    draft = pulls[("octo-org/octo-repo", 1348)]
    assert (draft["is_draft"], draft["is_merged"], draft["label_names"]) == (True, False, ["hotfix", "infra"])


# ---------------------------------------------------------------------------------------------------
# Scenario 2: reporting_timezone Europe/Berlin, run_date 2026-10-25, as_of = end of that local day
# (2026-10-26 00:00 CET = 2026-10-25T23:00:00Z). DST starts 2026-03-29 (23 h day), ends 2026-10-25 (25 h).
# Earliest incident 2026-03-28T22:00Z = 23:00 CET 03-28 -> window 03-28..10-25
# = 4 + 30 + 31 + 30 + 31 + 31 + 30 + 25 = 212 days.
# ---------------------------------------------------------------------------------------------------
BERLIN_VARS = {
    "run_date": "2026-10-25",
    "as_of": "2026-10-25T23:00:00Z",
    "reporting_timezone": "Europe/Berlin",
    "default_slo_target_pct": 99.9,
    "downtime_urgencies": ["high"],
    "downtime_priorities": [],
}
B_API = ("svc-berlin-api", "Berlin API")
B_QUIET = ("svc-berlin-quiet", "Berlin Quiet")
B_BATCH = ("svc-berlin-batch", "Berlin Batch")
BERLIN_DAYS = 212


def berlin_data() -> h.RawData:
    inc = h.pd_incident
    return h.RawData(
        pagerduty_services=[h.pd_service(sid, name) for sid, name in (B_API, B_QUIET, B_BATCH)],
        pagerduty_incidents=[
            # 23:00 CET 03-28 -> 00:30 CET 03-29 (spans local midnight; in UTC both ends are on 03-28)
            inc("a-mar", B_API, "2026-03-28T22:00:00Z", "2026-03-28T23:30:00Z"),
            # 23:30 CEST 10-24 -> 02:30 CEST 10-25 (spans local midnight, ends before the 03:00 fall-back)
            inc("a-oct", B_API, "2026-10-24T21:30:00Z", "2026-10-25T00:30:00Z"),
            # 02:30 CEST -> 02:30 CET on 10-25: wall clock shows 0 min, real time 1 h
            inc("c-dst", B_BATCH, "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"),
            # 23:30 CET 10-25, open: clipped at as_of (23:00Z) -> 30 min
            inc("c-open", B_BATCH, "2026-10-25T22:30:00Z", None, status="triggered"),
        ],
        config_services=[("svc-berlin-api", "eu", 99.5), ("svc-berlin-quiet", "eu", 99.9)],
        config_service_prices=[("svc-berlin-api", 2.0, None)],
    )


@pytest.fixture(scope="module")
def berlin_wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return h.build_scenario(tmp_path_factory.mktemp("dbt_berlin"), berlin_data(), BERLIN_VARS, AREA)


def test_berlin_spine_has_real_day_lengths(berlin_wh: Path) -> None:
    spine = {r["day"]: r for r in h.query(berlin_wh, "select * from intermediate.int_reporting_days_spined")}
    assert len(spine) == BERLIN_DAYS
    assert min(spine) == date(2026, 3, 28) and max(spine) == date(2026, 10, 25)
    assert spine[date(2026, 3, 29)]["day_length_s"] == 82_800  # 23 h
    assert spine[date(2026, 10, 25)]["day_length_s"] == 90_000  # 25 h
    assert spine[date(2026, 3, 28)]["day_length_s"] == spine[date(2026, 10, 24)]["day_length_s"] == DAY
    assert sum(1 for r in spine.values() if r["day_length_s"] != DAY) == 2
    # day start = local midnight in UTC
    assert spine[date(2026, 3, 29)]["day_start_at"] == datetime(2026, 3, 28, 23, tzinfo=UTC)  # CET
    assert spine[date(2026, 10, 25)]["day_start_at"] == datetime(2026, 10, 24, 22, tzinfo=UTC)  # CEST
    assert spine[date(2026, 10, 25)]["day_end_at"] == datetime(2026, 10, 25, 23, tzinfo=UTC)  # CET
    n = h.query(berlin_wh, "select count(*) n from marts.mart_availability_daily")[0]["n"]
    assert n == 3 * BERLIN_DAYS


def test_berlin_spring_forward_midnight_split(berlin_wh: Path) -> None:
    # 03-28 local = [03-27T23:00Z, 03-28T23:00Z): 22:00-23:00Z = 3600 s -> 100 * (1 - 3600/86400) = 95.8333...
    assert_day(
        row(berlin_wh, "svc-berlin-api", "2026-03-28"),
        downtime=3600,
        availability=100 * (1 - 3600 / DAY),
        count=1,
    )
    # 03-29 local = [03-28T23:00Z, 03-29T22:00Z), 82800 s: 23:00-23:30Z = 1800 s -> 97.8260869...
    assert_day(
        row(berlin_wh, "svc-berlin-api", "2026-03-29"),
        downtime=1800,
        availability=100 * (1 - 1800 / 82_800),
        count=0,
        length=82_800,
    )
    assert_day(
        row(berlin_wh, "svc-berlin-quiet", "2026-03-29"),
        downtime=0,
        availability=100.0,
        count=0,
        length=82_800,
    )


def test_berlin_fall_back_midnight_split(berlin_wh: Path) -> None:
    # 10-24 local = [10-23T22:00Z, 10-24T22:00Z): 21:30-22:00Z = 1800 s -> 97.91666...
    assert_day(
        row(berlin_wh, "svc-berlin-api", "2026-10-24"),
        downtime=1800,
        availability=100 * (1 - 1800 / DAY),
        count=1,
    )
    # 10-25 local = [10-24T22:00Z, 10-25T23:00Z), 90000 s: 22:00Z-00:30Z = 9000 s
    # -> 100 * (1 - 9000/90000) = 90.0
    assert_day(
        row(berlin_wh, "svc-berlin-api", "2026-10-25"),
        downtime=9000,
        availability=90.0,
        count=0,
        length=90_000,
    )


def test_berlin_repeated_hour_and_open_incident(berlin_wh: Path) -> None:
    # c-dst 00:30-01:30Z = 3600 s (the repeated 02:00-03:00 hour) + c-open 22:30Z..as_of 23:00Z = 1800 s
    # = 5400 s -> 100 * (1 - 5400/90000) = 94.0; two incidents created that local day
    r = row(berlin_wh, "svc-berlin-batch", "2026-10-25")
    assert_day(r, downtime=5400, availability=94.0, count=2, length=90_000)
    assert (r["team"], r["slo_target_pct"]) == ("unassigned", 99.9)


def test_berlin_error_budget_over_dst_window(berlin_wh: Path) -> None:
    # 10-25, SLO 99.5: window 09-26..10-25 = 29 * 86400 + 90000 = 2 595 600 s; budget 0.005 * that = 12 978 s
    # downtime_30d = 1800 (10-24) + 9000 (10-25) = 10800 -> 100 * (1 - 10800/12978) = 16.7822...
    r = row(berlin_wh, "svc-berlin-api", "2026-10-25")
    assert r["downtime_30d_s"] == pytest.approx(10_800, **APPROX)
    assert r["error_budget_remaining_pct"] == pytest.approx(100 * (1 - 10_800 / 12_978), **APPROX)
    # 03-29: window 03-28..03-29 = 86400 + 82800 = 169 200 s; budget 846 s; downtime 5400 -> -538.297...
    r = row(berlin_wh, "svc-berlin-api", "2026-03-29")
    assert r["error_budget_remaining_pct"] == pytest.approx(100 * (1 - 5400 / 846), **APPROX)


def test_berlin_rollup(berlin_wh: Path) -> None:
    rows = {
        r["scope_id"]: r
        for r in h.query(
            berlin_wh, "select * from marts.mart_availability_rollup_daily where day = '2026-10-25'"
        )
    }
    # eu: api 90.0, quiet 100 -> 95.0; org: (90 + 100 + 94) / 3 = 94.666...
    assert (rows["eu"]["availability_pct"], rows["eu"]["downtime_s"], rows["eu"]["service_count"]) == (
        pytest.approx(95.0, **APPROX),
        9000.0,
        2,
    )
    assert rows["org"]["availability_pct"] == pytest.approx((90 + 100 + 94) / 3, **APPROX)
    assert (rows["org"]["downtime_s"], rows["org"]["service_count"]) == (14_400.0, 3)


# ---------------------------------------------------------------------------------------------------
# Downtime cost (mart_downtime_cost_daily) on the same two scenarios: cost = downtime_s / 60 x price per minute,
# with the availability mart's downtime (union of intervals, cut at as_of, real day lengths).
# ---------------------------------------------------------------------------------------------------


def cost(wh: Path, scope_type: str, scope_id: str, day: str) -> dict[str, Any]:
    rows = h.query(wh, "select * from marts.mart_downtime_cost_daily where scope_type = ? and scope_id = ? and day = ?",
                   [scope_type, scope_id, day])
    assert len(rows) == 1, (scope_type, scope_id, day, rows)
    return rows[0]


def assert_cost(r: dict[str, Any], *, downtime: float, priced: float, cost_: float | None, revenue: float | None,
                coverage: float | None, priced_services: int, services: int = 1) -> None:
    assert r["downtime_s"] == pytest.approx(downtime, **APPROX)
    assert r["priced_downtime_s"] == pytest.approx(priced, **APPROX)
    for column, want in (("downtime_cost", cost_), ("revenue_at_risk", revenue), ("cost_coverage_pct", coverage)):
        assert r[column] == (None if want is None else pytest.approx(want, **APPROX)), column
    assert (r["priced_service_count"], r["service_count"], r["currency"]) == (priced_services, services, "USD")


def test_cost_of_overlapping_incidents_counts_their_union_once(utc_wh: Path) -> None:
    # union 10:00-12:30 = 9000 s = 150 min: cost 2/min -> 300 (not 13200 s -> 440); revenue 5/min -> 750, kept apart
    assert_cost(cost(utc_wh, "service", "svc-overlap", "2026-01-05"), downtime=9000, priced=9000, cost_=300,
                revenue=750, coverage=100, priced_services=1)


def test_cost_of_an_incident_over_midnight_is_split(utc_wh: Path) -> None:
    # 22:00Z-03:00Z at 2/min: 01-07 120 min -> 240, 01-08 180 min -> 360; a priced quiet day costs 0, coverage NULL
    assert cost(utc_wh, "service", "svc-midnight", "2026-01-07")["downtime_cost"] == pytest.approx(240, **APPROX)
    assert cost(utc_wh, "service", "svc-midnight", "2026-01-08")["downtime_cost"] == pytest.approx(360, **APPROX)
    assert_cost(cost(utc_wh, "service", "svc-midnight", "2026-01-06"), downtime=0, priced=0, cost_=0, revenue=None,
                coverage=None, priced_services=1)


def test_team_cost_sums_priced_services_and_reports_coverage(utc_wh: Path) -> None:
    # payments 01-08: midnight 10800 s priced (360) + budget 300 s unpriced + overlap 0 s priced (0; revenue 0)
    # -> cost 360, coverage 100 x 10800 / 11100 = 97.297...
    assert_cost(cost(utc_wh, "team", "payments", "2026-01-08"), downtime=11_100, priced=10_800, cost_=360, revenue=0,
                coverage=100 * 10_800 / 11_100, priced_services=2, services=3)
    # the unpriced service alone: NULL cost (unknown, not 0), coverage 0
    assert_cost(cost(utc_wh, "service", "svc-budget", "2026-01-08"), downtime=300, priced=0, cost_=None, revenue=None,
                coverage=0, priced_services=0)


def test_revenue_without_a_price_is_no_cost(utc_wh: Path) -> None:
    # search 01-09: only svc-prio, revenue 3/min, no cost: 3600 s -> revenue 180, cost NULL, coverage 0
    assert_cost(cost(utc_wh, "team", "search", "2026-01-09"), downtime=3600, priced=0, cost_=None, revenue=180,
                coverage=0, priced_services=0)


def test_open_incident_costs_up_to_as_of_and_low_urgency_costs_nothing(utc_wh: Path) -> None:
    # open since 01-09 20:00Z, as_of 01-10 18:00Z at 1/min: 01-09 240 min -> 240; 01-10 1080 min -> 1080
    assert cost(utc_wh, "service", "svc-open", "2026-01-09")["downtime_cost"] == pytest.approx(240, **APPROX)
    # platform 01-10: open 1080 + low (priced 10/min, one low-urgency incident: 0) + quiet (0)
    assert_cost(cost(utc_wh, "team", "platform", "2026-01-10"), downtime=64_800, priced=64_800, cost_=1080,
                revenue=None, coverage=100, priced_services=3, services=3)
    assert cost(utc_wh, "service", "svc-low", "2026-01-10")["downtime_cost"] == 0
    # org 01-10: + svc-unmapped 2160 s unpriced -> coverage 100 x 64800 / 66960; revenue: overlap and prio had none
    assert_cost(cost(utc_wh, "org", "org", "2026-01-10"), downtime=66_960, priced=64_800, cost_=1080, revenue=0,
                coverage=100 * 64_800 / 66_960, priced_services=5, services=9)


def test_cost_grid_matches_availability(utc_wh: Path) -> None:
    # one row per service, team (4) and org per availability day; service downtime equals availability's
    counts = h.query(utc_wh, "select scope_type, count(*) n from marts.mart_downtime_cost_daily group by 1 order by 1")
    assert counts == [{"scope_type": "org", "n": UTC_DAYS}, {"scope_type": "service", "n": 9 * UTC_DAYS},
                      {"scope_type": "team", "n": 4 * UTC_DAYS}]
    differing = h.query(utc_wh, """
        select count(*) n from marts.mart_availability_daily as a
        join marts.mart_downtime_cost_daily as c
          on c.scope_type = 'service' and c.scope_id = a.service_id and c.day = a.day
        where c.downtime_s <> a.downtime_s""")
    assert differing == [{"n": 0}]


def test_cost_of_dst_days_is_real_minutes(berlin_wh: Path) -> None:
    # 25-h day 10-25: 9000 s at 2/min -> 300, while availability divides by 90000 s (90.0 %)
    assert cost(berlin_wh, "service", "svc-berlin-api", "2026-10-25")["downtime_cost"] == pytest.approx(300, **APPROX)
    assert row(berlin_wh, "svc-berlin-api", "2026-10-25")["availability_pct"] == pytest.approx(90.0, **APPROX)
    # 23:00 CET 03-28 -> 00:30 CET 03-29 (a 23-h day): 60 min -> 120, then 30 min -> 60
    assert cost(berlin_wh, "service", "svc-berlin-api", "2026-03-28")["downtime_cost"] == pytest.approx(120, **APPROX)
    assert cost(berlin_wh, "service", "svc-berlin-api", "2026-03-29")["downtime_cost"] == pytest.approx(60, **APPROX)
    # team eu 10-25: api (priced, 300) and quiet (unpriced, no downtime) -> coverage 100
    eu = cost(berlin_wh, "team", "eu", "2026-10-25")
    assert (eu["downtime_cost"], eu["cost_coverage_pct"], eu["priced_service_count"]) == (
        pytest.approx(300, **APPROX), pytest.approx(100, **APPROX), 1)
