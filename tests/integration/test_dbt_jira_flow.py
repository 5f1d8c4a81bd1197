"""Jira flow marts (dbt) on hand-built issues and changelogs, checked against numbers worked out by hand.

Two scenarios, one `dbt build` each (module-scoped fixtures): a UTC one where every edge case is its own
issue, and a Europe/Berlin one around the 2026-03-29 DST change (a 23-hour day) for WIP at the end of a day.
Raw rows are shaped like the loader writes them: typed key columns + the API object as `record`.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

try:  # tests/integration as a package
    from . import dbt_harness as h
except ImportError:  # rootdir-relative (no __init__.py in tests/integration)
    import dbt_harness as h  # type: ignore[no-redef]

pytestmark = pytest.mark.skipif(not h.dbt_executable().exists(), reason="dbt is not installed in this venv")

DAY = 86_400
HOUR = 3_600
# fct_jira_issues and what it reads, the flow mart and what reads it (not the incident marts that read
# fct_jira_issues for Jira incidents: their own module builds them)
SELECT = h.area("+fct_jira_issues", "+mart_jira_flow_daily+")

# Workflow: ids and categories as GET /status returns them. 10001 was renamed "In Review" -> "Code Review":
# changelog entries written before the rename still say "In Review"; the id is the same.
TODO, IN_PROGRESS, REVIEW, DONE, WONT_DO = "10000", "3", "10001", "10002", "10003"
STATUSES = {
    TODO: ("To Do", "new"),
    IN_PROGRESS: ("In Progress", "indeterminate"),
    REVIEW: ("Code Review", "indeterminate"),
    DONE: ("Done", "done"),
    WONT_DO: ("Won't Do", "done"),
}
PROJECTS = {"OPS": ("10000", "Operations"), "WEB": ("10001", "Web Platform")}


# --- API-shaped builders ------------------------------------------------------------------------------------


def status_item(frm: str, to: str, from_name: str | None = None, to_name: str | None = None) -> dict[str, Any]:
    return {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": frm,
            "fromString": from_name or STATUSES[frm][0], "to": to, "toString": to_name or STATUSES[to][0]}


def resolution_item(set_: bool) -> dict[str, Any]:
    value = ("10000", "Done")
    return {"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
            "from": None if set_ else value[0], "fromString": None if set_ else value[1],
            "to": value[0] if set_ else None, "toString": value[1] if set_ else None}


def other_item(field: str = "labels") -> dict[str, Any]:
    return {"field": field, "fieldtype": "jira", "fieldId": field, "from": None, "fromString": "",
            "to": None, "toString": "backend"}


def rank_item() -> dict[str, Any]:
    return {"field": "Rank", "fieldtype": "custom", "fieldId": "customfield_10019", "from": None,
            "fromString": "", "to": None, "toString": "Ranked higher"}


def history(history_id: int, created: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(history_id),
            "author": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Krystof", "active": True},
            "created": created, "items": list(items)}


class Issue:
    """An issue as `POST /search/jql` with expand=changelog returns it, plus its full changelog."""

    def __init__(self, issue_id: str, key: str, created: str, histories: list[dict[str, Any]], *,
                 status: str, status_name: str | None = None, resolutiondate: str | None = None,
                 issuetype: str = "Task", updated: str | None = None, project: str | None = None):
        self.id = issue_id
        self.histories = histories
        project = project or key.split("-")[0]
        name, category = STATUSES[status]
        newest_first = list(reversed(histories))
        self.record = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue_id,
            "self": f"https://example.atlassian.net/rest/api/3/issue/{issue_id}",
            "key": key,
            "fields": {
                "summary": f"Summary of {key}",
                "created": created,
                "updated": updated or (histories[-1]["created"] if histories else created),
                "resolutiondate": resolutiondate,
                "labels": [],
                "issuetype": {"id": "10004", "name": issuetype, "subtask": False},
                "priority": {"id": "3", "name": "Medium"},
                "status": {"id": status, "name": status_name or name,
                           "statusCategory": {"id": 4, "key": category}},
                "project": {"id": PROJECTS[project][0], "key": project, "name": PROJECTS[project][1]},
            },
            # the search embeds only the newest 20 entries, newest first; `total` counts them all
            "changelog": {"startAt": 0, "maxResults": min(20, len(histories)), "total": len(histories),
                          "histories": newest_first[:20]},
        }


def load_jira(path: Path, issues: list[Issue], *, reconciliations: dict[str, str],
              project_teams: dict[str, str]) -> None:
    """Insert the Jira raw tables as the loader leaves them after extract + load."""
    ts = h.parse_ts
    con = duckdb.connect(str(path))
    try:
        for issue in issues:
            f = issue.record["fields"]
            con.execute("insert into raw.jira__issues values (?, ?, ?, ?, ?)",
                        [issue.id, ts(f["updated"]), json.dumps(issue.record), h.BATCH_ID, h.LOADED_AT])
            for entry in issue.histories:
                con.execute("insert into raw.jira__issue_changelogs values (?, ?, ?, ?, ?, ?)",
                            [issue.id, entry["id"], ts(entry["created"]), json.dumps(entry), h.BATCH_ID,
                             h.LOADED_AT])
        for status_id, (name, category) in STATUSES.items():
            record = {"id": status_id, "name": name, "statusCategory": {"key": category}}
            con.execute("insert into raw.jira__statuses values (?, ?, ?, ?, ?, ?)",
                        [status_id, name, category, json.dumps(record), h.BATCH_ID, h.LOADED_AT])
        for key, (project_id, name) in PROJECTS.items():
            record = {"id": project_id, "key": key, "name": name}
            con.execute("insert into raw.jira__projects values (?, ?, ?, ?, ?, ?)",
                        [project_id, key, name, json.dumps(record), h.BATCH_ID, h.LOADED_AT])
        for issue_id, reconciled_at in reconciliations.items():
            con.execute("insert into raw.jira__issue_ids values (?, ?, ?, ?, ?)",
                        [issue_id, ts(reconciled_at), json.dumps({"id": issue_id}), h.BATCH_ID, h.LOADED_AT])
        con.executemany("insert into raw.config__projects values (?, ?)", sorted(project_teams.items()))
    finally:
        con.close()


def build(work_dir: Path, issues: list[Issue], dbt_vars: dict[str, Any], *, reconciliations: dict[str, str],
          project_teams: dict[str, str]) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    warehouse = work_dir / "warehouse.duckdb"
    # the harness needs one service mapping row; no Jira model reads it
    h.create_warehouse(warehouse, h.RawData(config_services=[("PUNUSED", None, None)]))
    load_jira(warehouse, issues, reconciliations=reconciliations, project_teams=project_teams)
    h.check_dbt_build(warehouse, dbt_vars, work_dir, SELECT)
    return warehouse


# ---------------------------------------------------------------------------------------------------
# Scenario 1: reporting_timezone UTC, run_date 2026-03-20, as_of 2026-03-21T00:00:00Z.
# OPS -> team platform, WEB unmapped -> team unassigned.
# ---------------------------------------------------------------------------------------------------
UTC_VARS = {"run_date": "2026-03-20", "as_of": "2026-03-21T00:00:00Z", "reporting_timezone": "UTC",
            "jira_bug_issue_types": ["bug"]}


def long_changelog() -> list[dict[str, Any]]:
    """150 entries (two pages of /changelog): the start of work is far older than the newest 20."""
    entries = [history(70000, "2026-03-02T00:00:00.000+0000", status_item(TODO, IN_PROGRESS))]
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    for i in range(147):
        at = (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        entries.append(history(70001 + i, at, rank_item()))
    entries.append(history(70200, "2026-03-09T12:00:00.000+0000", status_item(IN_PROGRESS, DONE),
                           resolution_item(True)))
    entries.append(history(70201, "2026-03-09T13:00:00.000+0000", other_item()))
    return entries


def utc_issues() -> list[Issue]:
    return [
        # A straight flow; timestamps in the API user's zone (-0800 = UTC-8): created 09:00Z
        Issue("1001", "OPS-1", "2026-03-02T01:00:00.000-0800", [
            history(10, "2026-03-03T02:00:00.000-0800", status_item(TODO, IN_PROGRESS)),  # 10:00Z
            history(11, "2026-03-04T12:00:00.000+0000", status_item(IN_PROGRESS, REVIEW, to_name="In Review")),
            history(12, "2026-03-05T15:30:00.000+0000", status_item(REVIEW, DONE, from_name="In Review"),
                    resolution_item(True)),
        ], status=DONE, resolutiondate="2026-03-05T15:30:00.000+0000", issuetype="Story"),
        # B reopened and closed again
        Issue("1002", "OPS-2", "2026-03-01T08:00:00.000+0000", [
            history(20, "2026-03-02T08:00:00.000+0000", status_item(TODO, IN_PROGRESS)),
            history(21, "2026-03-04T08:00:00.000+0000", status_item(IN_PROGRESS, DONE), resolution_item(True)),
            history(22, "2026-03-06T08:00:00.000+0000", status_item(DONE, IN_PROGRESS), resolution_item(False)),
            history(23, "2026-03-07T20:00:00.000+0000", status_item(IN_PROGRESS, DONE), resolution_item(True)),
        ], status=DONE, resolutiondate="2026-03-07T20:00:00.000+0000", issuetype="Bug"),
        # C never started (only a label change)
        Issue("1003", "OPS-3", "2026-03-10T12:00:00.000+0000", [
            history(30, "2026-03-11T09:00:00.000+0000", other_item()),
        ], status=TODO, issuetype="Bug"),
        # D closed straight from To Do: never indeterminate
        Issue("1004", "OPS-4", "2026-03-09T00:00:00.000+0000", [
            history(40, "2026-03-12T06:00:00.000+0000", status_item(TODO, DONE), resolution_item(True)),
        ], status=DONE, resolutiondate="2026-03-12T06:00:00.000+0000"),
        # E through status 10001 under its old name "In Review"; the statuses stream calls it "Code Review"
        Issue("2001", "WEB-1", "2026-03-01T00:00:00.000+0000", [
            history(50, "2026-03-02T00:00:00.000+0000", status_item(TODO, REVIEW, to_name="In Review")),
            history(51, "2026-03-06T12:00:00.000+0000", status_item(REVIEW, DONE), resolution_item(True)),
        ], status=DONE, resolutiondate="2026-03-06T12:00:00.000+0000", issuetype="Story"),
        # F in the renamed status now; its record was read before the rename ("In Review")
        Issue("2002", "WEB-2", "2026-03-15T00:00:00.000+0000", [
            history(60, "2026-03-16T00:00:00.000+0000", status_item(TODO, REVIEW, to_name="In Review")),
        ], status=REVIEW, status_name="In Review", issuetype="Bug"),
        # G 150 changelog entries: the embedded 20 hold neither the start of work nor its first status
        Issue("1005", "OPS-5", "2026-03-01T00:00:00.000+0000", long_changelog(), status=DONE,
              resolutiondate="2026-03-09T12:00:00.000+0000"),
        # H deleted: in progress, missing from the newest reconciliation although last updated before it
        Issue("1006", "OPS-6", "2026-03-05T00:00:00.000+0000", [
            history(80, "2026-03-06T00:00:00.000+0000", status_item(TODO, IN_PROGRESS)),
        ], status=IN_PROGRESS, issuetype="Bug"),
        # I created after the newest reconciliation: not listed, not deleted
        Issue("1007", "OPS-7", "2026-03-19T12:00:00.000+0000", [], status=TODO),
        # J moved from OPS (as OPS-8) to WEB: same id, now WEB-3
        Issue("2003", "WEB-3", "2026-03-03T00:00:00.000+0000", [
            history(90, "2026-03-04T00:00:00.000+0000", status_item(TODO, IN_PROGRESS)),
            history(91, "2026-03-05T00:00:00.000+0000",
                    {"field": "project", "fieldtype": "jira", "fieldId": "project", "from": "10000",
                     "fromString": "Operations", "to": "10001", "toString": "Web Platform"},
                    {"field": "Key", "fieldtype": "jira", "fieldId": "issuekey", "from": None,
                     "fromString": "OPS-8", "to": None, "toString": "WEB-3"}),
            history(92, "2026-03-09T00:00:00.000+0000", status_item(IN_PROGRESS, DONE), resolution_item(True)),
        ], status=DONE, resolutiondate="2026-03-09T00:00:00.000+0000", issuetype="Story"),
    ]


UTC_RECONCILIATIONS = {  # newest reconciliation 2026-03-19T00:00Z lists everything but 1006 (and 1007, newer)
    **{i: "2026-03-19T00:00:00+00:00" for i in ("1001", "1002", "1003", "1004", "1005", "2001", "2002", "2003")},
    "1006": "2026-03-12T00:00:00+00:00",
}


@pytest.fixture(scope="module")
def utc_warehouse(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("jira_utc"), utc_issues(), UTC_VARS,
                 reconciliations=UTC_RECONCILIATIONS, project_teams={"OPS": "platform"})


def issue_row(warehouse: Path, key: str) -> dict[str, Any]:
    rows = h.query(warehouse, "select * from marts.fct_jira_issues where key = ?", [key])
    assert len(rows) == 1, rows
    return rows[0]


def flow(warehouse: Path, scope_type: str, scope_id: str) -> dict[date, dict[str, Any]]:
    rows = h.query(warehouse, "select * from marts.mart_jira_flow_daily where scope_type = ? and scope_id = ? "
                              "order by day", [scope_type, scope_id])
    return {r["day"]: r for r in rows}


def test_fct_has_the_issue_columns_and_one_row_per_issue_id(utc_warehouse):
    rows = h.query(utc_warehouse, "select * from marts.fct_jira_issues order by issue_id")
    assert list(rows[0]) == [
        "issue_id", "key", "project", "team", "issue_type", "priority", "status", "status_category", "created_at",
        "resolved_at", "first_in_progress_at", "last_done_at", "cycle_time_s", "lead_time_s", "reopen_count",
        "is_deleted", "date_key", "jira_project_key", "team_key"]
    assert [r["issue_id"] for r in rows] == ["1001", "1002", "1003", "1004", "1005", "1006", "1007", "2001",
                                             "2002", "2003"]


def test_straight_flow(utc_warehouse):
    a = issue_row(utc_warehouse, "OPS-1")
    # first in progress 03-03 02:00-08:00 = 10:00Z; done 03-05 15:30Z; created 03-02 01:00-08:00 = 09:00Z
    assert a["first_in_progress_at"] == datetime(2026, 3, 3, 10, tzinfo=UTC)
    assert a["last_done_at"] == datetime(2026, 3, 5, 15, 30, tzinfo=UTC)
    assert a["cycle_time_s"] == 2 * DAY + 5 * HOUR + 30 * 60  # 03-03 10:00 -> 03-05 15:30 = 192600
    assert a["lead_time_s"] == 3 * DAY + 6 * HOUR + 30 * 60  # 03-02 09:00 -> 03-05 15:30 = 282600
    assert (a["reopen_count"], a["status"], a["status_category"], a["team"]) == (0, "Done", "done", "platform")


def test_reopened_and_closed_again_uses_the_last_close(utc_warehouse):
    b = issue_row(utc_warehouse, "OPS-2")
    assert b["last_done_at"] == datetime(2026, 3, 7, 20, tzinfo=UTC)
    assert b["cycle_time_s"] == 5 * DAY + 12 * HOUR  # 03-02 08:00 -> 03-07 20:00 = 475200
    assert b["lead_time_s"] == 6 * DAY + 12 * HOUR  # 03-01 08:00 -> 03-07 20:00 = 561600
    assert b["reopen_count"] == 1


def test_never_started_has_no_cycle_or_lead_time(utc_warehouse):
    c = issue_row(utc_warehouse, "OPS-3")
    assert (c["first_in_progress_at"], c["last_done_at"], c["cycle_time_s"], c["lead_time_s"]) == (
        None, None, None, None)
    assert c["status_category"] == "new"


def test_closed_without_being_in_progress_has_lead_time_only(utc_warehouse):
    d = issue_row(utc_warehouse, "OPS-4")
    assert d["first_in_progress_at"] is None and d["cycle_time_s"] is None
    assert d["last_done_at"] == datetime(2026, 3, 12, 6, tzinfo=UTC)
    assert d["lead_time_s"] == 3 * DAY + 6 * HOUR  # 03-09 00:00 -> 03-12 06:00 = 280800


def test_renamed_status_keeps_its_category(utc_warehouse):
    e = issue_row(utc_warehouse, "WEB-1")
    # "In Review" (old name of id 10001) is indeterminate: work started 03-02 00:00, done 03-06 12:00
    assert e["first_in_progress_at"] == datetime(2026, 3, 2, tzinfo=UTC)
    assert e["cycle_time_s"] == 4 * DAY + 12 * HOUR  # 388800
    f = issue_row(utc_warehouse, "WEB-2")
    assert (f["status"], f["status_category"]) == ("Code Review", "indeterminate")
    assert f["first_in_progress_at"] == datetime(2026, 3, 16, tzinfo=UTC) and f["cycle_time_s"] is None


def test_changelog_longer_than_one_page_is_read_whole(utc_warehouse):
    g = issue_row(utc_warehouse, "OPS-5")
    # the start of work (entry 1 of 150) is not among the 20 embedded entries
    assert g["first_in_progress_at"] == datetime(2026, 3, 2, tzinfo=UTC)
    assert g["cycle_time_s"] == 7 * DAY + 12 * HOUR  # 03-02 00:00 -> 03-09 12:00 = 648000
    assert g["lead_time_s"] == 8 * DAY + 12 * HOUR  # 03-01 00:00 -> 03-09 12:00 = 734400
    n = h.query(utc_warehouse, "select count(*) as n from staging.stg_jira__issue_changelogs where issue_id = '1005'")
    assert n[0]["n"] == 150


def test_deleted_issue_is_marked_and_left_out_of_the_flow(utc_warehouse):
    assert issue_row(utc_warehouse, "OPS-6")["is_deleted"] is True
    # created after the newest reconciliation: not listed yet, not deleted
    assert issue_row(utc_warehouse, "OPS-7")["is_deleted"] is False
    assert h.query(utc_warehouse, "select count(*) as n from marts.fct_jira_issues where is_deleted")[0]["n"] == 1
    ops = flow(utc_warehouse, "project", "OPS")
    # without the exclusion OPS-6 (in progress since 03-06) would make OPS WIP 3 on 03-06 and 1 on 03-20
    assert ops[date(2026, 3, 6)]["wip_end_of_day"] == 2  # B reopened 08:00, G in progress
    assert ops[date(2026, 3, 20)]["wip_end_of_day"] == 0
    assert ops[date(2026, 3, 5)]["created"] == 0  # OPS-6 was created on 03-05


def test_moved_issue_is_one_row_in_its_current_project(utc_warehouse):
    j = issue_row(utc_warehouse, "WEB-3")
    assert (j["issue_id"], j["project"], j["team"]) == ("2003", "WEB", "unassigned")
    assert j["cycle_time_s"] == 5 * DAY  # 03-04 -> 03-09
    assert j["lead_time_s"] == 6 * DAY  # 03-03 -> 03-09
    web = flow(utc_warehouse, "project", "WEB")
    assert web[date(2026, 3, 3)]["created"] == 1 and flow(utc_warehouse, "project", "OPS")[date(2026, 3, 3)][
        "created"] == 0


def test_throughput_counts_a_reclose_again(utc_warehouse):
    ops = flow(utc_warehouse, "project", "OPS")
    # B closes on 03-04 and again on 03-07; its last close is the only cycle time sample
    assert ops[date(2026, 3, 4)]["throughput"] == 1 and ops[date(2026, 3, 7)]["throughput"] == 1
    assert ops[date(2026, 3, 4)]["resolved"] == 0  # resolutiondate moved to 03-07
    assert ops[date(2026, 3, 4)]["cycle_time_s_p50"] is None and ops[date(2026, 3, 4)]["cycle_time_sample_size"] == 0
    # OPS closes: A 03-05, B 03-04 and 03-07, G 03-09, D 03-12 = 5 entries into done for 4 issues
    assert sum(r["throughput"] for r in ops.values()) == 5
    org = flow(utc_warehouse, "org", "org")
    assert sum(r["throughput"] for r in org.values()) == 7  # + E 03-06, J 03-09
    assert org[date(2026, 3, 9)]["throughput"] == 2  # G and J


def test_daily_percentiles_and_sample_sizes(utc_warehouse):
    org = flow(utc_warehouse, "org", "org")
    d9 = org[date(2026, 3, 9)]
    # last closes on 03-09: J 432000, G 648000 -> p50 = 540000, p85 = 432000 + 0.85 * 216000 = 615600
    assert (d9["cycle_time_sample_size"], d9["cycle_time_s_p50"]) == (2, 540000)
    assert d9["cycle_time_s_p85"] == pytest.approx(615600, abs=1e-6)
    # resolved on 03-09: J 518400, G 734400 -> p50 = 626400
    assert (d9["resolved"], d9["lead_time_sample_size"], d9["lead_time_s_p50"]) == (2, 2, 626400)
    d5 = org[date(2026, 3, 5)]
    assert (d5["cycle_time_s_p50"], d5["cycle_time_s_p85"], d5["lead_time_s_p50"]) == (192600, 192600, 282600)
    d12 = org[date(2026, 3, 12)]  # D: resolved, but no cycle time
    assert (d12["resolved"], d12["lead_time_s_p50"], d12["cycle_time_s_p50"], d12["cycle_time_sample_size"]) == (
        1, 280800, None, 0)
    quiet = org[date(2026, 3, 14)]
    assert (quiet["created"], quiet["resolved"], quiet["throughput"], quiet["lead_time_s_p50"],
            quiet["lead_time_sample_size"]) == (0, 0, 0, None, 0)


def test_wip_and_bug_backlog_at_end_of_day(utc_warehouse):
    org = flow(utc_warehouse, "org", "org")
    wip = {d: r["wip_end_of_day"] for d, r in org.items()}
    # 03-01: nobody started; 03-02: B, E, G; 03-03: + A; 03-04: A, E, G, J (B done 08:00);
    # 03-05: E, G, J; 03-06: B (reopened), G, J (E done 12:00); 03-07: G, J; 03-08: G, J;
    # 03-09: G and J done -> 0; 03-10: 0
    assert [wip[date(2026, 3, d)] for d in range(1, 11)] == [0, 3, 4, 4, 3, 3, 2, 2, 0, 0]
    assert org[date(2026, 3, 20)]["wip_end_of_day"] == 1  # F in "Code Review" since 03-16
    # bugs not done: B 03-01..03-03, none 03-04/05, B 03-06, none until C (03-10), then C + F (03-15..)
    backlog = [org[date(2026, 3, d)]["bug_backlog"] for d in (1, 3, 4, 6, 7, 10, 15, 20)]
    assert backlog == [1, 1, 0, 1, 0, 1, 2, 2]
    unassigned = flow(utc_warehouse, "team", "unassigned")
    assert unassigned[date(2026, 3, 20)]["bug_backlog"] == 1  # F (WEB)


def test_grid_is_dense_per_scope_and_day(utc_warehouse):
    rows = h.query(utc_warehouse, "select scope_type, scope_id, count(*) as days, min(day) as first, "
                                  "max(day) as last from marts.mart_jira_flow_daily group by 1, 2 order by 1, 2")
    # first issue created 03-01 (the deleted one does not count) .. run_date 03-20 = 20 days
    assert [(r["scope_type"], r["scope_id"], r["days"]) for r in rows] == [
        ("org", "org", 20), ("project", "OPS", 20), ("project", "WEB", 20), ("team", "platform", 20),
        ("team", "unassigned", 20)]
    assert {(r["first"], r["last"]) for r in rows} == {(date(2026, 3, 1), date(2026, 3, 20))}
    columns = h.query(utc_warehouse, "select * from marts.mart_jira_flow_daily limit 1")[0]
    assert list(columns)[:11] == [
        "day", "scope_type", "scope_id", "created", "resolved", "throughput", "wip_end_of_day", "cycle_time_s_p50",
        "cycle_time_s_p85", "lead_time_s_p50", "bug_backlog"]


# ---------------------------------------------------------------------------------------------------
# Scenario 2: Europe/Berlin, run_date 2026-03-30, as_of 2026-03-30T22:00:00Z (local midnight).
# 2026-03-29 is 23 hours long there: 03-28T23:00Z .. 03-29T22:00Z.
# ---------------------------------------------------------------------------------------------------
BERLIN_VARS = {"run_date": "2026-03-30", "as_of": "2026-03-30T22:00:00Z", "reporting_timezone": "Europe/Berlin"}


def berlin_issues() -> list[Issue]:
    return [
        # K: in progress 03-28 21:30Z (22:30 CET, local 03-28); done 03-29 22:30Z (00:30 CEST, local 03-30)
        Issue("3001", "OPS-31", "2026-03-28T10:00:00.000+0000", [
            history(100, "2026-03-28T21:30:00.000+0000", status_item(TODO, IN_PROGRESS)),
            history(101, "2026-03-29T22:30:00.000+0000", status_item(IN_PROGRESS, DONE), resolution_item(True)),
        ], status=DONE, resolutiondate="2026-03-29T22:30:00.000+0000"),
        # L: in progress 03-28 23:30Z = 03-29 00:30 CET (local 03-29, UTC 03-28)
        Issue("3002", "OPS-32", "2026-03-28T20:00:00.000+0000", [
            history(110, "2026-03-29T00:30:00.000+0100", status_item(TODO, IN_PROGRESS)),
        ], status=IN_PROGRESS),
    ]


@pytest.fixture(scope="module")
def berlin_warehouse(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("jira_berlin"), berlin_issues(), BERLIN_VARS,
                 reconciliations={"3001": "2026-03-30T22:00:00+00:00", "3002": "2026-03-30T22:00:00+00:00"},
                 project_teams={"OPS": "platform"})


def test_wip_at_end_of_day_across_a_dst_change(berlin_warehouse):
    org = flow(berlin_warehouse, "org", "org")
    assert sorted(org) == [date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)]
    # end of 03-28 = 03-28T23:00Z: K (21:30Z) in progress, L (23:30Z) not yet -> 1
    # end of 03-29 = 03-29T22:00Z (a 23 h day): K still in progress (done 22:30Z), L -> 2
    #   (a 24 h day would end at 23:00Z and lose K; UTC days would give 2 and 1)
    # 03-30, measured at as_of 22:00Z: K done, L -> 1
    assert [org[date(2026, 3, d)]["wip_end_of_day"] for d in (28, 29, 30)] == [1, 2, 1]
    # K's close at 00:30 local belongs to 03-30, not to 03-29 (its UTC date)
    assert [org[date(2026, 3, d)]["throughput"] for d in (28, 29, 30)] == [0, 0, 1]
    # K: 03-28 21:30Z -> 03-29 22:30Z = 25 h of elapsed time (the lost hour is not counted twice)
    assert issue_row(berlin_warehouse, "OPS-31")["cycle_time_s"] == 25 * HOUR
    assert org[date(2026, 3, 30)]["cycle_time_s_p50"] == 25 * HOUR
