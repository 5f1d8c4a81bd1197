"""The maturity scorecard (contract kpi-definitions-wave2.md §7) on hand-built data, every answer worked out by hand.

Scenario (UTC, reporting time zone UTC, run_date 2026-05-12, as_of 2026-05-13T00:00Z), rubric v1. Teams:
  ops       service S1 (explicit SLO 99.9), no repository, no Jira project, no incident. Attested: runbooks, and
            dr_tested attested 2026-01-01 expiring 2026-05-10T00:00Z (the first instant of day 10).
  web       service S2 without an explicit SLO (slo_defined fails), no repository, no project, no incident;
            runbooks and dr_tested attested (valid through the scenario).
  sre       service S3 (explicit SLO) with 3 incidents created 05-01..05-03 (never acknowledged).
  platform  service S4 (explicit SLO), repository acme/plat: the KPI history of the improving case (case 5).
Nightly runs: pipeline_health_daily has one run for every date 2026-04-01..05-11 (the run of 05-12 itself has no
meta tables, so it writes none), so continuous_reporting (>= 28 nights in 30 days) passes from 04-28 on: on 05-09,
05-10 and 05-12 the windows 04-10..05-09, 04-11..05-10, 04-13..05-12 hold 30, 30 and 29 nights.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.integration.dbt_harness import (
    RawData,
    check_dbt_build,
    compile_inline,
    create_warehouse,
    pd_incident,
    pd_service,
    query,
    run_dbt_build,
)
from tests.integration.test_dbt_dora import Github, merged_pull

RUN_DATE = "2026-05-12"
S1, S2, S3, S4 = ("PS1", "ops-svc"), ("PS2", "web-svc"), ("PS3", "sre-svc"), ("PS4", "plat-svc")
ATTESTATIONS = [
    {"criterion_id": "runbooks", "scope_type": "team", "scope_id": "ops", "attested_by": "ana",
     "attested_at": "2026-01-01T00:00:00Z", "evidence_url": "https://wiki/ops/runbooks"},
    {"criterion_id": "dr_tested", "scope_type": "team", "scope_id": "ops", "attested_by": "ana",
     "attested_at": "2026-01-01T00:00:00Z", "expires_at": "2026-05-10T00:00:00Z",
     "evidence_url": "https://wiki/ops/dr-2026"},
    {"criterion_id": "runbooks", "scope_type": "team", "scope_id": "web", "attested_by": "bo",
     "attested_at": "2026-01-01T00:00:00Z", "evidence_url": "https://wiki/web/runbooks"},
    {"criterion_id": "dr_tested", "scope_type": "team", "scope_id": "web", "attested_by": "bo",
     "attested_at": "2026-01-01T00:00:00Z", "evidence_url": "https://wiki/web/dr"},
]
VARS = {"run_date": RUN_DATE, "as_of": "2026-05-13T00:00:00Z", "reporting_timezone": "UTC", "run_id": "night-1",
        "maturity_attestations": ATTESTATIONS}
NIGHTS = [date(2026, 4, 1) + timedelta(days=k) for k in range(41)]  # 04-01 .. 05-11


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _platform(gh: Github, raw: RawData) -> None:
    """Case 5. d = 05-12: recent window 04-13..05-12, prior window 01-13..04-12.
    MTTR: resolved in the recent window after 1700, 1750, 1800, 1850, 1900 s (median 1800), in the prior one after
    1900, 1950, 2000, 2050, 2100 s (median 2000): 1800 <= 0.95 x 2000 = 1900, improved.
    Lead time: one pull request per deployment, opened `lead` seconds before it (no commits: first commit = opened);
    recent 1850, 1900, 1950, 2000, 2050 (median 1950), prior 1900 .. 2100 (median 2000): 1950 > 1900, not improved."""
    gh.repos.append(("acme/plat", "platform"))
    number = 0
    for start, ttrs, leads in ((datetime(2026, 4, 20, 8, tzinfo=UTC), (1700, 1750, 1800, 1850, 1900),
                                (1850, 1900, 1950, 2000, 2050)),
                               (datetime(2026, 2, 10, 8, tzinfo=UTC), (1900, 1950, 2000, 2050, 2100),
                                (1900, 1950, 2000, 2050, 2100))):
        for k, (ttr, lead) in enumerate(zip(ttrs, leads, strict=True)):
            number += 1
            created = start + timedelta(days=k)
            raw.pagerduty_incidents.append(pd_incident(f"P{number}", S4, _iso(created),
                                                       _iso(created + timedelta(seconds=ttr)), number=100 + number))
            deployed = created + timedelta(hours=2)
            gh.deploy("acme/plat", 500 + number, "production", _iso(deployed - timedelta(minutes=5)),
                      ("success", _iso(deployed)))
            raw.github_pulls.append(("acme/plat", merged_pull(number, _iso(deployed - timedelta(seconds=lead)),
                                                              _iso(deployed - timedelta(seconds=60)))))


@pytest.fixture(scope="module")
def wh(tmp_path_factory) -> Path:
    gh = Github()
    raw = RawData(
        pagerduty_services=[pd_service(*s) for s in (S1, S2, S3, S4)],
        config_services=[("PS1", "ops", 99.9), ("PS2", "web", None), ("PS3", "sre", 99.9), ("PS4", "platform", 99.9)],
        pagerduty_incidents=[pd_incident(f"R{k}", S3, f"2026-05-0{k}T10:00:00Z", f"2026-05-0{k}T11:00:00Z", number=k)
                             for k in (1, 2, 3)],
    )
    _platform(gh, raw)
    work = tmp_path_factory.mktemp("maturity")
    warehouse = work / "warehouse.duckdb"
    create_warehouse(warehouse, raw)
    gh.write(warehouse)
    with duckdb.connect(str(warehouse)) as con:  # sre owns Jira project SRE (no issue in it)
        con.execute("insert into raw.config__projects values ('SRE', 'sre')")
    # the nights before this one: pipeline_health_daily is the pipeline's own history (one row set per run)
    check_dbt_build(warehouse, VARS, work / "create",
                    ["--select", "+pipeline_health_daily", "--indirect-selection", "cautious"])
    with duckdb.connect(str(warehouse)) as con:
        for night in NIGHTS:
            con.execute("insert into marts.pipeline_health_daily (snapshot_date, source, stream, run_id, computed_at, "
                        "records_before_window) "
                        "values (?, 'pagerduty', 'incidents', ?, now(), 0)", [night, f"night-{night}"])
    check_dbt_build(warehouse, VARS, work / "v1")
    return warehouse


def scorecard(warehouse: Path, day: str, scope: str) -> dict[str, dict]:
    rows = query(warehouse, "select * from marts.mart_maturity_scorecard where day = ? and scope_id = ?", [day, scope])
    return {r["criterion_id"]: r for r in rows}


def level(warehouse: Path, day: str, scope: str) -> dict:
    rows = query(warehouse, "select * from marts.mart_maturity_level_daily where day = ? and scope_id = ?",
                 [day, scope])
    assert len(rows) == 1, (day, scope, rows)
    return rows[0]


def test_levels_are_never_skipped(wh):
    """Case 1: web passes every L2 and L4 criterion and fails one L3 criterion (slo_defined: S2 has no explicit
    SLO, 0 % of 1 service against = 100): level 2, although its L4 criteria are all met."""
    card = scorecard(wh, RUN_DATE, "web")
    assert {k: r["status"] for k, r in card.items() if r["level"] == 2} == {
        "incidents_recorded": "pass",      # 1 service mapped >= 1
        "response_recorded": "pass",       # no incident in 90 days: when_empty pass
        "work_tracked": "not_applicable",  # no Jira project
    }
    assert {k: r["status"] for k, r in card.items() if r["level"] == 4} == {
        "dora_measured": "not_applicable", "mttd_coverage": "pass", "patch_compliance": "not_applicable",
        "no_critical_breach": "not_applicable", "code_scanning_enabled": "not_applicable",
        "traceability": "not_applicable", "continuous_reporting": "pass"}
    failing_l3 = {k: (r["status"], r["evidence_value"], r["threshold"], r["sample_size"])
                  for k, r in card.items() if r["level"] == 3 and not r["is_met"]}
    assert failing_l3 == {"slo_defined": ("fail", 0.0, 100.0, 1)}
    assert card["continuous_reporting"]["evidence_value"] == 29.0  # nights 04-13..05-11
    got = level(wh, RUN_DATE, "web")
    assert (got["level"], got["blocking_criteria"], got["rubric_version"]) == (2, "slo_defined", "v1")
    # 22 criteria; met: 3 (L2) + 7 of 8 (L3) + 7 (L4) + dora_tiers (n/a) = 18; attested: runbooks, dr_tested
    assert (got["criteria_total"], got["criteria_met"], got["attested_count"]) == (22, 18, 2)


def test_an_attestation_expiring_at_the_start_of_day_10_covers_day_9_only(wh):
    """Case 2: ops's dr_tested expires at 2026-05-10T00:00Z, the end of 05-09: attested on 05-09, expired on 05-10,
    so ops drops from level 4 to level 2 on 05-10 (day 9 is a backfilled past day of this run)."""
    day9, day10 = scorecard(wh, "2026-05-09", "ops"), scorecard(wh, "2026-05-10", "ops")
    assert (day9["dr_tested"]["status"], day9["dr_tested"]["attested_by"]) == ("attested", "ana")
    assert day9["dr_tested"]["evidence_value"] is None  # attested, never measured
    assert day10["dr_tested"]["status"] == "attestation_expired"
    assert day10["dr_tested"]["expires_at"] == datetime(2026, 5, 10, tzinfo=UTC)
    # L4 all met on both days (no repository, no project: not_applicable; no incident: when_empty pass;
    # 30 nights each), L5 improving: no KPI has samples -> 0 < 3 fails
    assert level(wh, "2026-05-09", "ops")["level"] == 4
    assert level(wh, "2026-05-10", "ops")["level"] == 2
    assert level(wh, "2026-05-10", "ops")["blocking_criteria"] == "dr_tested"
    # nobody attested postmortems: missing, not met
    assert day9["postmortems"]["status"] == "attestation_missing"
    assert day9["runbooks"]["status"] == "attested" and day9["runbooks"]["kind"] == "attested"


def test_a_team_without_repositories_reaches_level_3(wh):
    """Case 3: ops has no repository: every repo criterion is not_applicable (met), so it reaches L3 (and L4)."""
    card = scorecard(wh, "2026-05-09", "ops")
    repo_criteria = {k: r["status"] for k, r in card.items() if r["applies_to"] == "repo"}
    assert repo_criteria == {k: "not_applicable" for k in (
        "scanning_enabled", "deploy_automated", "dora_measured", "patch_compliance", "no_critical_breach",
        "code_scanning_enabled", "dora_tiers")}
    assert level(wh, "2026-05-09", "ops")["level"] >= 3


def test_too_few_incidents_is_insufficient_data(wh):
    """Case 4: sre has 3 eligible incidents in the 30 days to 05-12 against min_sample 5: mttd_coverage is
    insufficient_data (not met), not a pass or a fail on 3 incidents."""
    card = scorecard(wh, RUN_DATE, "sre")
    mttd = card["mttd_coverage"]
    assert (mttd["status"], mttd["sample_size"], mttd["min_sample"], mttd["is_met"]) == (
        "insufficient_data", 3, 5, False)
    assert mttd["evidence_value"] == 0.0  # none of the 3 has a detection delay (no alert stamps)
    # sre owns Jira project SRE: traceability (e2e_link_coverage) applies, but no issue of it was done in the 30
    # days: an empty population takes the rubric's when_empty, fail; work_tracked: 0 of 1 project had an issue created
    assert (card["traceability"]["status"], card["traceability"]["sample_size"]) == ("fail", 0)
    assert (card["work_tracked"]["status"], card["work_tracked"]["evidence_value"]) == ("fail", 0.0)
    # response_recorded: 0 of 3 acknowledged = 0 % < 80: fail at L2 -> level 1
    assert (card["response_recorded"]["status"], card["response_recorded"]["evidence_value"]) == ("fail", 0.0)
    assert level(wh, RUN_DATE, "sre")["level"] == 1
    assert level(wh, RUN_DATE, "sre")["blocking_criteria"] == "response_recorded, work_tracked"


def test_improving_kpis(wh):
    """Case 5 (platform on 05-12): mttr_p50 1800 s against 2000 s before: improving (<= 1900). lead_time_p50 1950 s
    against 2000 s: not improved by the 95 % rule (> 1900); both are Elite (< 1 day), which the contract's second
    rule ("a DORA metric that is Elite in both periods also counts") counts separately (elite_both)."""
    rows = {r["kpi"]: r for r in query(wh, "select * from intermediate.int_maturity__improving_kpis "
                                           "where day = ? and scope_id = 'platform'", [RUN_DATE])}
    mttr, lead = rows["mttr_p50"], rows["lead_time_p50"]
    assert (mttr["recent_value"], mttr["recent_sample_size"], mttr["prior_value"], mttr["prior_sample_size"]) == (
        1800.0, 5, 2000.0, 5)
    assert (mttr["improved"], mttr["is_improving"]) == (True, True)
    assert (lead["recent_value"], lead["prior_value"], lead["recent_sample_size"], lead["prior_sample_size"]) == (
        1950.0, 2000.0, 5, 5)
    assert lead["improved"] is False
    assert lead["elite_both"] is True


def test_scorecard_rows_carry_evidence_threshold_and_sample(wh):
    card = scorecard(wh, RUN_DATE, "org")
    assert set(card) == {
        "incidents_recorded", "response_recorded", "work_tracked", "slo_defined", "slo_met", "monitoring", "ack_sla",
        "scanning_enabled", "deploy_automated", "runbooks", "dr_tested", "dora_measured", "mttd_coverage",
        "patch_compliance", "no_critical_breach", "code_scanning_enabled", "traceability", "continuous_reporting",
        "improving", "dora_tiers", "postmortems", "error_budget_policy"}
    # org: 4 configured services; 3 of 4 have an explicit SLO = 75 %
    assert (card["incidents_recorded"]["evidence_value"], card["incidents_recorded"]["sample_size"]) == (4.0, 4)
    assert (card["slo_defined"]["evidence_value"], card["slo_defined"]["status"]) == (75.0, "fail")
    # traceability: no Jira issue done in the 30 days: empty population -> when_empty (fail)
    assert (card["traceability"]["status"], card["traceability"]["sample_size"]) == ("fail", 0)
    # org attestations: none -> missing
    assert card["runbooks"]["status"] == "attestation_missing"


def test_rubric_switch_recomputes_history_and_the_snapshot_keeps_what_was_shown(wh, tmp_path):
    """Case 6: the night of 05-13 runs rubric v2 (v1 without slo_defined). The marts are recomputed for every day
    under v2 (web: level 4 on 05-12 now, its L3 blocker gone), while the snapshot's 05-12 and earlier rows keep the
    v1 levels that were shown (web 2), and 05-13 shows v2's."""
    work = tmp_path / "v2"
    work.mkdir()
    warehouse = work / "warehouse.duckdb"
    shutil.copy2(wh, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into marts.maturity_rubric select * replace ('v2' as rubric_version) "
                    "from marts.maturity_rubric where rubric_version = 'v1' and criterion_id <> 'slo_defined'")
    v2_vars = {**VARS, "run_date": "2026-05-13", "as_of": "2026-05-14T00:00:00Z", "run_id": "night-2",
               "maturity_rubric_version": "v2"}
    check_dbt_build(warehouse, v2_vars, work, ["--exclude", "maturity_rubric"])
    assert {r["rubric_version"] for r in query(warehouse, "select distinct rubric_version "
                                                          "from marts.mart_maturity_level_daily")} == {"v2"}
    assert level(warehouse, RUN_DATE, "web")["level"] == 4  # recomputed history
    snap = {(str(r["snapshot_date"]), r["scope_id"]): r for r in query(
        warehouse, "select * from marts.kpi_daily_snapshot where kpi = 'maturity_level'")}
    assert (snap[(RUN_DATE, "web")]["value"], snap[(RUN_DATE, "web")]["run_id"]) == (2.0, "night-1")
    assert snap[("2026-05-09", "web")]["run_id"] == "backfill:night-1"  # the first build backfilled past dates
    assert (snap[("2026-05-13", "web")]["value"], snap[("2026-05-13", "web")]["run_id"]) == (4.0, "night-2")
    assert snap[("2026-05-13", "web")]["unit"] == "level" and snap[("2026-05-13", "web")]["window"] == "1d"
    assert snap[("2026-05-13", "web")]["sample_size"] == 21  # v2 has 21 criteria


def test_snapshot_maturity_level_and_backfilled_days(wh):
    """The snapshot's maturity_level (window 1d, sample = criteria evaluated) equals the mart on every date, the
    dates before run_date being the first build's backfill."""
    snap = {(r["snapshot_date"], r["scope_id"]): r for r in query(
        wh, "select * from marts.kpi_daily_snapshot where kpi = 'maturity_level'")}
    mart = query(wh, "select * from marts.mart_maturity_level_daily")
    in_snapshot = [r for r in mart if (r["day"], r["scope_id"]) in snap]
    assert len(in_snapshot) > 50
    for r in in_snapshot:
        s = snap[(r["day"], r["scope_id"])]
        assert (s["value"], s["sample_size"], s["window"]) == (float(r["level"]), r["criteria_total"], "1d")
    assert snap[(date(2026, 5, 9), "ops")]["value"] == 4.0 and snap[(date(2026, 5, 10), "ops")]["value"] == 2.0
    assert json.dumps(sorted({s["run_id"] for s in snap.values()})) == json.dumps(["backfill:night-1", "night-1"])


def test_a_backfilled_past_day_equals_the_nightly_run(wh, tmp_path):
    """Backfill: the night of 05-10 replayed after 05-12 (run_date 05-10 on the same warehouse) gives every
    scorecard and level row through 05-10 that the 05-12 run computed for those days, among them ops's drop to
    level 2 on 05-10 (case 2): windows end on each day and attestations are judged at each day's end, so nothing
    of the later days leaks into a past one. The one exception is the pipeline's own bookkeeping (not replayable,
    docs/metrics.md): the replay replaces the 05-10 rows of pipeline_health_daily with its own, and a bare dbt build
    has no meta tables to write them from, so continuous_reporting counts 29 nights on 05-10 instead of 30 (still
    a pass)."""
    work = tmp_path / "backfill"
    work.mkdir()
    warehouse = work / "warehouse.duckdb"
    shutil.copy2(wh, warehouse)
    check_dbt_build(warehouse, {**VARS, "run_date": "2026-05-10", "as_of": "2026-05-11T00:00:00Z",
                                "run_id": "backfill-0510"}, work)
    for table, replayable in (("mart_maturity_scorecard", "criterion_id <> 'continuous_reporting'"),
                              ("mart_maturity_level_daily", "true")):
        sql = f"select * from marts.{table} where day <= date '2026-05-10' and {replayable} order by all"
        replayed, nightly = query(warehouse, sql), query(wh, sql)
        assert len(replayed) == len(nightly) > 100, table
        assert replayed == nightly, table
    assert level(warehouse, "2026-05-10", "ops")["level"] == 2 and level(warehouse, "2026-05-09", "ops")["level"] == 4
    nights = [scorecard(w, "2026-05-10", "ops")["continuous_reporting"] for w in (wh, warehouse)]
    assert [(n["evidence_value"], n["status"]) for n in nights] == [(30.0, "pass"), (29.0, "pass")]


def test_a_rubric_version_without_rows_fails_the_build(wh, tmp_path):
    """maturity.rubric_version selects a version as dora.benchmark_year selects a year: one without rows in the seed
    fails the build (it would otherwise give every scope level 5 on no criteria)."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy2(wh, warehouse)
    result = run_dbt_build(warehouse, {**VARS, "maturity_rubric_version": "v9"}, tmp_path)
    assert result.returncode != 0 and "assert_maturity_rubric_version_in_seed" in result.stdout


def test_the_windowed_periods_equal_the_pooled_join(wh, tmp_path):
    """The improving KPIs' two periods (d-29..d and d-119..d-30) come from DuckDB's windowed median
    (duckdb__maturity_recent_and_prior) instead of joining every fact to each of its 120 days; both are compiled by
    dbt and run on the same facts: 4,000 of them, with ties and several a day, on every scope of the grid, reaching
    from before its first day to its last, in a median KPI and a 0/1 rate KPI. Every row must be equal."""
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(wh.read_bytes())
    with duckdb.connect(str(copy)) as con:
        con.execute("""
            create table main.probe_facts as
            with scopes as (select distinct scope_type, scope_id from intermediate.int_maturity__grid),
                 span as (select min(day) - 130 as first_day, max(day) as last_day from intermediate.int_maturity__grid)
            select scopes.scope_type, scopes.scope_id,
                   case when i % 2 = 0 then 'median_kpi' else 'rate_kpi' end as kpi,
                   span.first_day + cast(hash(i, 'day') % (span.last_day - span.first_day + 1) as integer) as day,
                   case when i % 2 = 0 then cast(hash(i, 'value') % 50 as double) * 60
                        else cast(hash(i, 'rate') % 2 as double) end as value
            from range(4000) as draws(i)
            cross join span
            inner join (select *, row_number() over (order by scope_type, scope_id) - 1 as k from scopes) as scopes
                on scopes.k = hash(i, 'scope') % (select count(*) from scopes)""")
    compiled = {kind: compile_inline(copy, VARS, tmp_path / kind,
                                     f"{{{{ {kind}__maturity_recent_and_prior('main.probe_facts', ['rate_kpi']) }}}}")
                for kind in ("default", "duckdb")}
    assert "over recent" in compiled["duckdb"] and "over recent" not in compiled["default"]
    with duckdb.connect(str(copy)) as con:
        for kind, sql in compiled.items():
            con.execute(f"create table main.periods_{kind} as {sql}")
        rows = con.execute("select count(*), count(distinct scope_id), count(distinct day), "
                           "count(*) filter (where recent_sample_size > 1 and prior_sample_size > 1) "
                           "from main.periods_default").fetchone()
        only = [con.execute(f"select count(*) from (select * from main.periods_{a} except all "
                            f"select * from main.periods_{b})").fetchone()[0]
                for a, b in (("default", "duckdb"), ("duckdb", "default"))]
    assert rows[0] > 500 and rows[1] >= 4 and rows[3] > 100, rows
    assert only == [0, 0], f"rows only in the pooled join / only in the window version: {only}"
