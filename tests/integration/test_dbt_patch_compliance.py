"""Patch-policy compliance and withdrawn Dependabot alerts on hand-built records, every expected value worked out by
hand (contract: kpi-definitions-wave2.md §3; docs/metrics.md "Patch compliance").

Repositories acme/pay and acme/ops, team payments; default days critical 15, high 30, medium 90, low 180; UTC.
`published` is created - 1 day unless said. Night 1: run_date 10-25, as_of 10-26 00:00. Night 2: run_date 11-10,
as_of 11-11 00:00 (every night's complete state=open walk, stream dependabot_open_alerts, is in NIGHT*_ROWS). Then a
backfill of 10-20 (as_of 10-21 00:00) with patch_clock advisory_published.

  P1  critical created 10-01, fixed 10-16 00:00 = its deadline       -> met on 10-16, time to patch 1 296 000 s (case 1)
  P2  critical created 10-01, fixed 10-20                            -> missed on 10-16; 1 641 600 s on 10-20 (case 2)
  P3  critical created 10-01, dismissed 10-03                        -> dismissed_before_due on 10-03 (case 3)
  P4  critical created 10-01, dismissed 10-20                        -> missed on 10-16 (case 3)
  P5  high created 10-10, published 08-31 (40 days before), open     -> alert_created: due 11-09, missed then;
                                                                        advisory_published: due 09-30, missed on
                                                                        10-10 and past policy from then on (case 4)
  P6  critical created 10-05, open; walk 1 lists it, walk 2 does not -> withdrawn at 11-11 00:00 (night 2's as_of):
                                                                        night 1 had it missed on 10-20, night 2 not
                                                                        (case 5); open and past policy until 11-09
  P7  high created 10-06, open; walk 2 lists it with the advisory's withdrawn_at 11-05 12:00 -> withdrawn then
  P8  critical created 10-02, fixed 10-06 (night 1); night 2: open again since 11-01 (GitHub reintroduced it, the
      API cleared fixed_at)                                          -> stays met on 10-06; closed 10-06..10-31, open
                                                                        and past policy from 11-01 (case 6)
  P9  low created 10-10, open, no first_patched_version              -> open_without_patch
  P10 high created 10-12, no published_at, fixed 10-14               -> met on 10-14; disclosure unknown; with
                                                                        advisory_published no deadline (clock_unknown)
  P11 medium created 10-15, published 10-16 (after it), fixed 10-18  -> disclosure clamped: advisory_after_alert
  P12 critical created 10-21 12:00, fixed 10-21 06:00 (clock skew)   -> time to patch clamped to 0
  P13 critical created 10-20, open on night 1, fixed 11-03 (night 2) -> met on 11-03
  P14 medium created 10-08, fixed 10-24, first loaded on night 2     -> late: met on 10-24 from night 2 on
  O1  acme/ops critical created 10-01, open; night 2's walk of acme/ops answered not_enabled -> no walk: stays open
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.dbt_harness import RawData, area, check_dbt_build, create_warehouse, query
from tests.integration.test_dbt_security import ts, write_alerts

NIGHT1 = {"run_date": "2026-10-25", "as_of": "2026-10-26T00:00:00Z", "reporting_timezone": "UTC"}
NIGHT2 = {"run_date": "2026-11-10", "as_of": "2026-11-11T00:00:00Z", "reporting_timezone": "UTC"}
BACKFILL = {"run_date": "2026-10-20", "as_of": "2026-10-21T00:00:00Z", "reporting_timezone": "UTC"}
REPO_TEAMS = (("acme/pay", "payments"), ("acme/ops", "payments"))
AREA = area("+mart_patch_compliance_daily", "+mart_security_posture_daily")
# The models that read the clock or the run's date; the staging views and the nightly history stay as built.
PATCH_MODELS = ["--select", "int_security__withdrawn_alerts", "fct_security_alerts", "int_security__closings",
                "int_security__days", "int_security__cells", "int_security__alert_days", "int_security__patch_alerts",
                "mart_patch_compliance_daily"]
DAY = 86400


def at(text: str) -> str:
    """'10-16' or '10-21 06:00' (2026) -> the API's ISO form."""
    day, _, clock = text.partition(" ")
    return f"2026-{day}T{clock or '00:00'}:00Z"


def alert(number: int, severity: str, created: str, state: str = "open", *, fixed: str | None = None,
          dismissed: str | None = None, updated: str | None = None, published: str | None | bool = True,
          withdrawn: str | None = None, patched: bool = True, repo: str = "acme/pay") -> dict[str, Any]:
    """A Dependabot alert as GET /repos/{owner}/{repo}/dependabot/alerts returns it; times as at() takes them."""
    created_at = at(created)
    if published is True:
        published_at = (datetime.fromisoformat(created_at.replace("Z", "+00:00")) - timedelta(days=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
    else:
        published_at = at(published) if published else None
    vulnerability = {"package": {"ecosystem": "npm", "name": "lodash"}, "severity": severity,
                     "vulnerable_version_range": "< 4.17.21",
                     "first_patched_version": {"identifier": "4.17.21"} if patched else None}
    stamps = {"fixed_at": fixed, "dismissed_at": dismissed}
    return {"number": number, "state": state,
            "dependency": {"package": {"ecosystem": "npm", "name": "lodash"}, "manifest_path": "package-lock.json",
                           "scope": "runtime", "relationship": "direct"},
            "security_advisory": {"ghsa_id": f"GHSA-{number}", "severity": severity, "vulnerabilities": [vulnerability],
                                  "published_at": published_at, "withdrawn_at": at(withdrawn) if withdrawn else None},
            "security_vulnerability": vulnerability,
            "html_url": f"https://github.com/{repo}/security/dependabot/{number}",
            "created_at": created_at, "updated_at": at(updated or fixed or dismissed or created),
            **{k: at(v) if v else None for k, v in stamps.items()},
            "dismissed_reason": "tolerable_risk" if dismissed else None, "auto_dismissed_at": None, "assignees": []}


def dependabot(record: dict, repo: str = "acme/pay") -> tuple:
    return ("dependabot_alerts", repo, record)


def listed(record: dict, night: dict, repo: str = "acme/pay") -> tuple:
    return ("dependabot_open_alerts", repo, record, night["as_of"])


def coverage(stream: str, repo: str, night: dict, status: str = "ok") -> tuple:
    run = night["run_date"]
    return ("github", stream, repo, status, 403 if status != "ok" else None, None, 0, ts("2026-08-01T00:00:00Z"),
            ts(night["as_of"]), run, f"batch-{run}-{stream}-{repo}", ts(night["as_of"]))


P5 = alert(5, "high", "10-10", published="08-31")
P6 = alert(6, "critical", "10-05")
P7 = alert(7, "high", "10-06")
P9 = alert(9, "low", "10-10", patched=False)
O1 = alert(1, "critical", "10-01", repo="acme/ops")
SETTLED = [alert(1, "critical", "10-01", "fixed", fixed="10-16"),
           alert(2, "critical", "10-01", "fixed", fixed="10-20"),
           alert(3, "critical", "10-01", "dismissed", dismissed="10-03"),
           alert(4, "critical", "10-01", "dismissed", dismissed="10-20"),
           alert(10, "high", "10-12", "fixed", fixed="10-14", published=None),
           alert(11, "medium", "10-15", "fixed", fixed="10-18", published="10-16"),
           alert(12, "critical", "10-21 12:00", "fixed", fixed="10-21 06:00")]
P8_FIXED = alert(8, "critical", "10-02", "fixed", fixed="10-06")
P8_REINTRODUCED = alert(8, "critical", "10-02", updated="11-01")
P13_OPEN, P13_FIXED = alert(13, "critical", "10-20"), alert(13, "critical", "10-20", "fixed", fixed="11-03")
P14 = alert(14, "medium", "10-08", "fixed", fixed="10-24")

NIGHT1_ROWS = [*(dependabot(a) for a in [*SETTLED, P5, P6, P7, P8_FIXED, P9, P13_OPEN]), dependabot(O1, "acme/ops"),
               *(listed(a, NIGHT1) for a in (P5, P6, P7, P9, P13_OPEN)), listed(O1, NIGHT1, "acme/ops")]
NIGHT2_ROWS = [*(dependabot(a) for a in (P8_REINTRODUCED, P13_FIXED, P14)),
               *(listed(a, NIGHT2) for a in (P5, alert(7, "high", "10-06", withdrawn="11-05 12:00"), P8_REINTRODUCED,
                                             P9))]


def walks(night: dict, ops_status: str = "ok") -> list[tuple]:
    return [coverage("dependabot_alerts", "acme/pay", night), coverage("dependabot_alerts", "acme/ops", night),
            coverage("dependabot_open_alerts", "acme/pay", night),
            coverage("dependabot_open_alerts", "acme/ops", night, ops_status)]


def patch_rows(path: Path) -> dict[tuple, dict[str, Any]]:
    return {(r["day"].isoformat()[5:], r["scope_id"], r["severity"]): r
            for r in query(path, "select * from marts.mart_patch_compliance_daily")}


@pytest.fixture(scope="module")
def nights(tmp_path_factory) -> dict[str, Any]:
    """Night 1, night 2, then a backfill of 10-20 with patch_clock advisory_published (the patch models only: the
    nightly history and the staging views stay as night 2 left them). Three builds: each costs ~5 s of dbt."""
    work = tmp_path_factory.mktemp("patch")
    path = work / "warehouse.duckdb"
    create_warehouse(path, RawData(config_services=[("PSVC1", "payments", 99.9)]))
    write_alerts(path, NIGHT1_ROWS, walks(NIGHT1), REPO_TEAMS)
    check_dbt_build(path, NIGHT1, work / "night1", AREA)
    out = {"night1": patch_rows(path)}
    write_alerts(path, NIGHT2_ROWS, walks(NIGHT2, ops_status="not_enabled"), REPO_TEAMS)
    check_dbt_build(path, NIGHT2, work / "night2", AREA)
    out["night2"] = patch_rows(path)
    out["posture"] = {(r["day"].isoformat()[5:], r["scope_id"], r["severity"]): r for r in query(
        path, "select * from marts.mart_security_posture_daily where tool = 'dependabot'")}
    out["alerts"] = {r["alert_key"]: r for r in query(
        path, "select p.*, f.close_reason, f.closed_at from intermediate.int_security__patch_alerts p "
              "join marts.fct_security_alerts f using (alert_key)")}
    out["withdrawn"] = {r["alert_key"]: r for r in query(
        path, "select * from intermediate.int_security__withdrawn_alerts")}
    check_dbt_build(path, {**BACKFILL, "security_patch_clock": "advisory_published"}, work / "backfill", PATCH_MODELS)
    out["backfill"] = patch_rows(path)
    return out


def figures(row: dict[str, Any], *names: str) -> tuple:
    return tuple(row[name] for name in names)


DECISIONS = ("met", "missed", "decided", "patch_compliance_pct", "dismissed_before_due")
STOCK = ("open", "past_policy", "open_without_patch")


def test_decisions_once_per_alert_at_the_earlier_of_fix_and_deadline(nights):
    got = nights["night2"]
    assert figures(got[("10-16", "acme/pay", "critical")], *DECISIONS) == (1, 2, 3, pytest.approx(100 / 3), 0)
    assert figures(got[("10-03", "acme/pay", "critical")], *DECISIONS) == (0, 0, 0, None, 1)  # P3: not judged
    assert figures(got[("10-20", "acme/pay", "critical")], *DECISIONS) == (0, 0, 0, None, 0)  # P4's dismissal, P2's fix
    assert figures(got[("11-09", "acme/pay", "high")], *DECISIONS) == (0, 1, 1, 0.0, 0)  # P5 came due still open
    decided = {key: row["decided"] for key, row in got.items() if key[1] == "acme/pay" and key[2] == "all"
               and row["decided"]}
    # P8 10-06, P10 10-14, P1/P2/P4 10-16, P11 10-18, P12 10-21 (its creation: fixed "before" it), P14 10-24,
    # P13 11-03, P5 11-09; never P3 (dismissed in time), P6, P7 (withdrawn), P9 (not due)
    assert decided == {("10-06", "acme/pay", "all"): 1, ("10-14", "acme/pay", "all"): 1,
                       ("10-16", "acme/pay", "all"): 3, ("10-18", "acme/pay", "all"): 1,
                       ("10-21", "acme/pay", "all"): 1, ("10-24", "acme/pay", "all"): 1,
                       ("11-03", "acme/pay", "all"): 1, ("11-09", "acme/pay", "all"): 1}
    outcomes = {key.split(":")[1]: row["outcome"] for key, row in nights["alerts"].items()}
    assert outcomes == {**{f"acme/pay#{n}": outcome for n, outcome in (
        (1, "met"), (2, "missed"), (3, "dismissed_before_due"), (4, "missed"), (5, "missed"), (6, "withdrawn"),
        (7, "withdrawn"), (8, "met"), (9, None), (10, "met"), (11, "met"), (12, "met"), (13, "met"), (14, "met"))},
        "acme/ops#1": "missed"}
    # O1's repository (acme/ops): missed on 10-16; the org pools both repositories
    assert figures(got[("10-16", "org", "critical")], "met", "missed") == (1, 3)
    assert figures(got[("10-16", "payments", "all")], "met", "missed") == (1, 3)


def test_time_to_patch_and_disclosure_per_day_of_the_fix(nights):
    got = nights["night2"]
    cols = ("time_to_patch_s_mean", "time_to_patch_s_p50", "time_to_patch_sample_size", "disclosure_to_patch_s_p50",
            "disclosure_to_patch_sample_size")
    assert figures(got[("10-16", "acme/pay", "critical")], *cols) == (15 * DAY, 15 * DAY, 1, 16 * DAY, 1)
    assert figures(got[("10-20", "acme/pay", "critical")], *cols) == (19 * DAY, 19 * DAY, 1, 20 * DAY, 1)
    assert figures(got[("10-06", "acme/pay", "critical")], *cols) == (4 * DAY, 4 * DAY, 1, 5 * DAY, 1)  # P8's 1st fix
    p10 = got[("10-14", "acme/pay", "high")]  # no published_at: a time to patch, no disclosure sample
    assert figures(p10, *cols, "disclosure_to_patch_unknown", "disclosure_to_patch_coverage_pct") == (
        2 * DAY, 2 * DAY, 1, None, 0, 1, 0.0)
    p11 = got[("10-18", "acme/pay", "medium")]  # published after the alert: clamped to created_at, counted
    assert figures(p11, "disclosure_to_patch_s_p50", "advisory_after_alert", "disclosure_to_patch_coverage_pct") == (
        3 * DAY, 1, 100.0)
    p12 = got[("10-21", "acme/pay", "critical")]  # fixed 6 h "before" it was created: clamped and counted
    assert figures(p12, "time_to_patch_s_mean", "time_to_patch_clamped", "disclosure_to_patch_s_p50") == (
        0, 1, 18 * 3600)
    # pooled over the severities and the repositories
    org_16 = got[("10-16", "org", "all")]
    assert figures(org_16, "time_to_patch_s_mean", "time_to_patch_sample_size") == (15 * DAY, 1)
    assert figures(got[("10-17", "org", "all")], "time_to_patch_s_mean", "time_to_patch_sample_size",
                   "disclosure_to_patch_coverage_pct") == (None, 0, None)


def test_time_to_patch_is_time_to_remediate_where_not_negative(nights):
    """The existing posture TTR restricted to Dependabot (days) equals time to patch (s) in every cell whose fixes
    needed no clamping."""
    compared = 0
    for (day, scope, severity), row in nights["night2"].items():
        if severity == "all" or row["time_to_patch_clamped"]:
            continue
        posture = nights["posture"][(day, scope, severity)]
        if row["time_to_patch_sample_size"]:
            assert posture["ttr_days_mean"] * DAY == pytest.approx(row["time_to_patch_s_mean"]), (day, scope)
            assert posture["fixed"] == row["time_to_patch_sample_size"]
            compared += 1
        else:
            assert posture["ttr_days_mean"] is None
    assert compared >= 3 * 7  # every fix day, at repo, team and org scope


def test_past_policy_with_alert_created_is_the_posture_in_breach(nights):
    checked = 0
    for (day, scope, severity), row in nights["night2"].items():
        if severity != "all":
            posture = nights["posture"][(day, scope, severity)]
            assert (row["open"], row["past_policy"]) == (posture["open"], posture["in_breach"]), (day, scope, severity)
            checked += row["past_policy"] > 0
    assert checked > 20


def test_open_and_past_policy_by_hand(nights):
    got = nights["night2"]
    crit = {day: figures(got[(day, "acme/pay", "critical")], *STOCK) for day in
            ("10-02", "10-05", "10-06", "10-15", "10-16", "10-19", "10-20", "10-31", "11-01", "11-03", "11-10")}
    assert crit == {
        "10-02": (5, 0, 0),  # P1, P2, P3, P4, P8 (P3 dismissed 10-03 00:00 = the day's end: still open)
        "10-05": (5, 0, 0),  # P1, P2, P4, P8 (fixed 10-06 00:00), P6
        "10-06": (4, 0, 0),  # P8 fixed
        "10-15": (4, 0, 0),  # due 10-16 00:00 = the day's end: not yet past policy
        "10-16": (3, 2, 0),  # P2, P4 past policy, P6 not yet
        "10-19": (3, 2, 0),
        "10-20": (2, 1, 0),  # P2 fixed and P4 dismissed at 00:00; P6 due 10-20; P13 created
        "10-31": (2, 1, 0),  # P8 still closed: its reintroduction moved updated_at to 11-01
        "11-01": (3, 2, 0),  # P8 open again, past its deadline of 10-17
        "11-03": (2, 2, 0),  # P13 fixed
        "11-10": (1, 1, 0),  # P6 withdrawn at 11-11 00:00, the day's end: gone; P8 left
    }
    high = {day: figures(got[(day, "acme/pay", "high")], *STOCK) for day in ("11-04", "11-05", "11-09")}
    assert high == {"11-04": (2, 0, 0),  # P5, P7 (due 11-05 00:00 = the day's end)
                    "11-05": (1, 0, 0),  # P7's advisory withdrawn 11-05 12:00: gone, never past policy
                    "11-09": (1, 1, 0)}  # P5 due 11-09 00:00
    assert figures(got[("11-10", "acme/pay", "all")], *STOCK) == (3, 2, 1)  # P5, P8, P9 (no patched version)
    assert figures(got[("11-10", "acme/ops", "critical")], *STOCK) == (1, 1, 0)  # O1: a not_enabled walk is no walk


def test_withdrawn_alerts_close_in_the_existing_marts(nights):
    withdrawn = {key: (row["withdrawn_at"], row["detected_by"]) for key, row in nights["withdrawn"].items()}
    assert withdrawn == {"dependabot:acme/pay#6": (datetime(2026, 11, 11, tzinfo=UTC), "open_walk"),
                         "dependabot:acme/pay#7": (datetime(2026, 11, 5, 12, tzinfo=UTC), "advisory_withdrawn_at")}
    p6, p7 = nights["alerts"]["dependabot:acme/pay#6"], nights["alerts"]["dependabot:acme/pay#7"]
    assert (p6["close_reason"], p6["closed_at"]) == ("withdrawn", datetime(2026, 11, 11, tzinfo=UTC))
    assert (p7["close_reason"], p7["closed_at"]) == ("withdrawn", datetime(2026, 11, 5, 12, tzinfo=UTC))
    posture = nights["posture"]
    assert figures(posture[("11-05", "acme/pay", "high")], "withdrawn", "dismissed", "open") == (1, 0, 1)
    assert figures(posture[("11-10", "acme/pay", "critical")], "open", "in_breach") == (1, 1)  # P8 only


def test_case5_night2_takes_back_what_night1_judged(nights):
    """P6 was open and missed (due 10-20) as night 1 saw it; night 2's complete walk no longer lists it."""
    night1, night2 = nights["night1"], nights["night2"]
    assert figures(night1[("10-20", "acme/pay", "critical")], "missed", "decided") == (1, 1)
    assert figures(night1[("10-25", "acme/pay", "critical")], *STOCK) == (2, 1, 0)  # P6 past policy, P13
    assert figures(night2[("10-20", "acme/pay", "critical")], "missed", "decided") == (0, 0)
    assert max(day for day, _, _ in night1) == "10-25" and max(day for day, _, _ in night2) == "11-10"


def test_case6_reintroduced_stays_met(nights):
    assert figures(nights["night1"][("10-06", "acme/pay", "critical")], "met", "decided") == (1, 1)
    assert figures(nights["night2"][("10-06", "acme/pay", "critical")], "met", "decided") == (1, 1)
    assert nights["alerts"]["dependabot:acme/pay#8"]["first_fixed_at"] == datetime(2026, 10, 6, tzinfo=UTC)


def test_late_arriving_fix_is_decided_when_it_arrives(nights):
    """P14 (fixed 10-24) reached the warehouse only on night 2; P13 was pending on night 1 (due 11-04)."""
    assert figures(nights["night1"][("10-24", "acme/pay", "medium")], "met", "time_to_patch_sample_size") == (0, 0)
    assert figures(nights["night2"][("10-24", "acme/pay", "medium")], "met", "time_to_patch_s_p50") == (1, 16 * DAY)
    assert figures(nights["night2"][("11-03", "acme/pay", "critical")], "met", "time_to_patch_s_p50") == (1, 14 * DAY)


def test_backfill_of_a_past_day_with_the_advisory_published_clock(nights):
    """10-20 rebuilt after night 2 (as_of 10-21 00:00) with deadlines counted from the advisory's publication
    (created - 1 day, unless said): only what was known by then, and every deadline one day earlier."""
    got = nights["backfill"]
    assert (min(day for day, _, _ in got), max(day for day, _, _ in got)) == ("10-01", "10-20")
    # P5: published 40 days before its creation, due 09-30: missed on the day it was created, past policy since
    # (P7, due 11-04, is open beside it); the SLA breach (from creation) says nothing of it until 11-09
    assert figures(got[("10-10", "acme/pay", "high")], "missed", "decided", "open", "past_policy") == (1, 1, 2, 1)
    assert figures(got[("10-20", "acme/pay", "high")], "open", "past_policy") == (2, 1)  # P5, P7 (P10 fixed)
    # P1 fixed 10-16 but due 10-15 (published 09-30): missed with P2 and P4 on 10-15, nothing on 10-16
    assert figures(got[("10-15", "acme/pay", "critical")], *DECISIONS) == (0, 3, 3, 0.0, 0)
    assert figures(got[("10-16", "acme/pay", "critical")], "met", "missed") == (0, 0)
    assert figures(got[("10-03", "acme/pay", "critical")], "dismissed_before_due") == (1,)
    # P6 was not withdrawn as of 10-21 (the walk that missed it ran on 11-11): judged, missed on 10-19
    assert figures(got[("10-19", "acme/pay", "critical")], "missed") == (1,)
    assert figures(got[("10-20", "acme/pay", "critical")], "open", "past_policy", "time_to_patch_s_p50") == (
        2, 1, 19 * DAY)  # P6, P13; P2's fix at 10-20 00:00
    # P10 has no published_at: no deadline, not judged; its fix still has a time to patch
    assert figures(got[("10-12", "acme/pay", "high")], "clock_unknown", "decided") == (1, 0)
    assert figures(got[("10-14", "acme/pay", "high")], "met", "time_to_patch_sample_size") == (0, 1)
    assert got[("10-06", "acme/pay", "critical")]["met"] == 1  # P8, from the nightly history's closing
