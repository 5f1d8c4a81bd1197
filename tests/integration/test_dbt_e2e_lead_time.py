"""End-to-end lead time (KPI contract wave 2, section 4) on hand-built Jira and GitHub records, every expected value
worked out by hand in the comments.

Scenario (UTC, run_date 2026-11-10, as_of 2026-11-11T00:00Z; configured Jira projects OPS and REL, release-based
project REL; WEB is stored but not configured). Teams: OPS -> platform, REL -> mobile, WEB unmapped.

acme/api production deployments (first success): D0 10-01 00:00 (its first known deployment), D0b 10-06 00:00,
D1 11-03 00:00, D2 11-05 00:00, D3 11-08 12:00. acme/legacy: L1 11-05 00:00 (its first known deployment).

Pull requests (acme/api unless said; title | head ref | commit messages; merged -> deployment):
  #1   "OPS-12 part 1"      | opskpi-a     | -              11-02 12:00 -> D1 11-03 00:00
  #14  "OPS-21 x"           | n            | -              11-02 18:00 -> D1
  #2   "OPS-12 part 2"      | b            | -              11-04 12:00 -> D2 11-05 00:00
  #3   "fix cache"          | ops-12-cache | "OPS-13 wip"   11-04 13:00 -> D2  (the branch names OPS-12: commits unread)
  #4   "[OPS-12][OPS-13] x" | d            | -              11-04 14:00 -> D2  (both)
  #5   "tidy"               | tidy-up      | "OPS-14: wip"  11-06 10:00 -> D3  (commit)
  #6   "Bump RELEASE-2024"  | bump         | "OPS-14 more"  11-06 11:00 -> D3  (RELEASE is no project: commits)
  #7   "Bump deps"          | deps         | "deps"         11-06 11:30 -> D3  (no key: no link)
  #8   "WEB-7 fix"          | h            | -              11-06 10:30 -> D3  (WEB-7 is OPS-40's former key)
  #9   "WEB-9 tweak"        | i            | -              11-06 11:45 -> D3  (WEB is not configured: no link)
  #10  "OPS-16 initial"     | j            | -              10-04 12:00 -> D0b 10-06 00:00
  #11  "OPS-16 follow-up"   | k            | -              11-04 00:00 -> D2  (30 days after OPS-16's done: late)
  #12  "OPS-18 hotfix"      | l            | -              11-07 12:00 -> D3
  #13  "OPS-15 thing"       | g            | -              11-09 09:00 -> not deployed (pending)
  acme/legacy #1 "OPS-19 port" | m       | -              10-20 00:00 -> L1 11-05, but merged before acme/legacy's
                                                                         first known deployment: unknown

Issues (created / first in progress / last done):
  OPS-12  11-01 00:00 / 11-01 06:00 / 11-04 18:00   PRs #1-#4 -> delivered 11-05 00:00 (the latest, D2)
  OPS-13  11-02 00:00 / never       / 11-04 20:00   PR #4       -> delivered 11-05 00:00
  OPS-14  11-05 00:00 / 11-05 06:00 / in progress   PRs #5 #6 (commits)
  OPS-15  11-08 00:00 / 11-08 06:00 / 11-09 10:00   PR #13 pending
  OPS-16  10-01 00:00 / 10-02 00:00 / 10-05 00:00   PR #10 -> 10-06 00:00; PR #11 is a late follow-up
  OPS-17  11-01 00:00 / 11-02 00:00 / 11-06 09:00   resolved Won't Do: not eligible
  OPS-18  11-09 00:00 / never       / 11-09 01:00   PR #12 deployed 11-08 12:00, before the issue existed: clamped
  OPS-19  11-01 00:00 / 11-02 00:00 / 11-06 09:00   legacy #1: deploy history missing -> unknown
  OPS-20  11-05 00:00 / 11-05 12:00 / 11-06 15:00   no PR (a late-arriving load links one)
  OPS-21  11-01 12:00 / 11-02 00:00 / 11-03 06:00, reopened 11-07 09:00   PR #14: not done at as_of
  OPS-40  11-02 00:00 as WEB-7, moved 11-03 / 11-05 00:00 / 11-06 12:00   PR #8 -> D3 11-08 12:00
  WEB-9   11-01 00:00 / 11-02 00:00 / 11-07 10:00   no link (PR #9 names it, but WEB is not configured)
  REL-1   11-02 00:00 / 11-02 12:00 / 11-03 10:00   fixVersions 1.9, 2.0, 2.1 -> delivered at the end of 11-06.
          As stored with the issue (read before 2.0 was released and 1.9 un-released): 1.9 released 11-04, 2.0
          unreleased 11-06, 2.1 released 11-09. The versions stream (read at every run) has 1.9 unreleased and 2.0
          released 11-06; it does not have 2.1, whose stored copy counts.
  REL-2   11-02 00:00 / never       / 11-03 10:00   fixVersion 3.0 unreleased -> pending
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.integration import dbt_harness as h
from tests.integration.test_dbt_dora import Github

pytestmark = pytest.mark.skipif(not h.dbt_executable().exists(), reason="dbt is not installed in this venv")

SELECT = h.area("+mart_e2e_lead_time_daily+")
VARS = {"run_date": "2026-11-10", "as_of": "2026-11-11T00:00:00Z", "reporting_timezone": "UTC",
        "jira_projects": ["OPS", "REL"], "lead_time_e2e_release_projects": ["REL"]}
API, LEGACY = "acme/api", "acme/legacy"
LOADED = datetime(2026, 11, 11, tzinfo=UTC)
LATE_LOADED = datetime(2026, 11, 12, tzinfo=UTC)

TODO, IN_PROGRESS, DONE, WONT_DO = "10000", "3", "10002", "10003"
STATUSES = {TODO: ("To Do", "new"), IN_PROGRESS: ("In Progress", "indeterminate"), DONE: ("Done", "done"),
            WONT_DO: ("Won't Do", "done")}
RESOLUTIONS = {DONE: ("10000", "Done"), WONT_DO: ("10001", "Won't Do")}
PROJECTS = {"OPS": ("10000", "Operations"), "WEB": ("10001", "Web Platform"), "REL": ("10002", "Mobile releases")}
TEAMS = {"OPS": "platform", "REL": "mobile"}
DAY, HOUR = 86_400, 3_600


# --- Jira records -------------------------------------------------------------------------------------------------


def at(day: str, time: str = "00:00") -> str:
    """'11-04', '18:00' -> Jira's timestamp '2026-11-04T18:00:00.000+0000'."""
    return f"2026-{day}T{time}:00.000+0000"


def status_change(history_id: int, when: str, frm: str, to: str) -> dict[str, Any]:
    items = [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": frm, "fromString": STATUSES[frm][0],
              "to": to, "toString": STATUSES[to][0]}]
    if STATUSES[to][1] == "done" or STATUSES[frm][1] == "done":
        before = RESOLUTIONS.get(frm) if STATUSES[frm][1] == "done" else None
        after = RESOLUTIONS.get(to) if STATUSES[to][1] == "done" else None
        items.append({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
                      "from": before and before[0], "fromString": before and before[1],
                      "to": after and after[0], "toString": after and after[1]})
    return {"id": str(history_id), "author": {"accountId": "5b10a2844c20165700ede21g"}, "created": when,
            "items": items}


def move(history_id: int, when: str, old_key: str, new_key: str) -> dict[str, Any]:
    """A move to another project as Jira's changelog records it: a `Key` item and a `project` item."""
    return {"id": str(history_id), "author": {"accountId": "5b10a2844c20165700ede21g"}, "created": when,
            "items": [{"field": "Key", "fieldtype": "jira", "fieldId": "issuekey", "from": None,
                       "fromString": old_key, "to": None, "toString": new_key},
                      {"field": "project", "fieldtype": "jira", "fieldId": "project",
                       "from": PROJECTS[old_key.split("-")[0]][0], "fromString": PROJECTS[old_key.split("-")[0]][1],
                       "to": PROJECTS[new_key.split("-")[0]][0], "toString": PROJECTS[new_key.split("-")[0]][1]}]}


def version(version_id: str, name: str, released: bool, release_date: str | None) -> dict[str, Any]:
    """A fix version as the search returns it in fields.fixVersions (Jira Cloud REST v3 `FixVersion`)."""
    record = {"self": f"https://example.atlassian.net/rest/api/3/version/{version_id}", "id": version_id,
              "description": "", "name": name, "archived": False, "released": released}
    if release_date:
        record["releaseDate"] = release_date
    return record


class Issue:
    """An issue as `POST /search/jql` (expand=changelog, fields incl. resolution and fixVersions) returns it."""

    def __init__(self, issue_id: str, key: str, created: str, histories: list[dict[str, Any]], *,
                 fix_versions: list[dict[str, Any]] | None = None, issuetype: str = "Story"):
        self.id = issue_id
        self.histories = histories
        status = TODO
        for entry in histories:
            for item in entry["items"]:
                if item["field"] == "status":
                    status = item["to"]
        name, category = STATUSES[status]
        resolution = RESOLUTIONS.get(status) if category == "done" else None
        done_at = next((e["created"] for e in reversed(histories)
                        for i in e["items"] if i["field"] == "status" and i["to"] == status), None)
        project = key.split("-")[0]
        self.record = {
            "id": issue_id,
            "self": f"https://example.atlassian.net/rest/api/3/issue/{issue_id}",
            "key": key,
            "fields": {
                "summary": f"Summary of {key}",
                "created": created,
                "updated": histories[-1]["created"] if histories else created,
                "resolutiondate": done_at if category == "done" else None,
                "resolution": ({"self": "https://example.atlassian.net/rest/api/3/resolution/" + resolution[0],
                                "id": resolution[0], "description": "", "name": resolution[1]}
                               if resolution else None),
                "fixVersions": list(fix_versions or []),
                "labels": [],
                "issuetype": {"id": "10002", "name": issuetype, "subtask": False},
                "priority": {"id": "3", "name": "Medium"},
                "status": {"id": status, "name": name, "statusCategory": {"id": 4, "key": category}},
                "project": {"id": PROJECTS[project][0], "key": project, "name": PROJECTS[project][1]},
            },
            "changelog": {"startAt": 0, "maxResults": len(histories), "total": len(histories),
                          "histories": list(reversed(histories))},
        }


def flow(first_id: int, started: str | None, done: str | None, *, done_status: str = DONE,
         reopened: str | None = None) -> list[dict[str, Any]]:
    """To Do -> In Progress (started) -> done (done); optionally reopened to In Progress."""
    entries = []
    current = TODO
    if started:
        entries.append(status_change(first_id, started, TODO, IN_PROGRESS))
        current = IN_PROGRESS
    if done:
        entries.append(status_change(first_id + 1, done, current, done_status))
        current = done_status
    if reopened:
        entries.append(status_change(first_id + 2, reopened, current, IN_PROGRESS))
    return entries


def issues() -> list[Issue]:
    return [
        Issue("1012", "OPS-12", at("11-01"), flow(120, at("11-01", "06:00"), at("11-04", "18:00"))),
        Issue("1013", "OPS-13", at("11-02"), flow(130, None, at("11-04", "20:00"))),
        Issue("1014", "OPS-14", at("11-05"), flow(140, at("11-05", "06:00"), None)),
        Issue("1015", "OPS-15", at("11-08"), flow(150, at("11-08", "06:00"), at("11-09", "10:00"))),
        Issue("1016", "OPS-16", at("10-01"), flow(160, at("10-02"), at("10-05"))),
        Issue("1017", "OPS-17", at("11-01"), flow(170, at("11-02"), at("11-06", "09:00"), done_status=WONT_DO)),
        Issue("1018", "OPS-18", at("11-09"), flow(180, None, at("11-09", "01:00"))),
        Issue("1019", "OPS-19", at("11-01"), flow(190, at("11-02"), at("11-06", "09:00"))),
        Issue("1020", "OPS-20", at("11-05"), flow(200, at("11-05", "12:00"), at("11-06", "15:00"))),
        Issue("1021", "OPS-21", at("11-01", "12:00"),
              flow(210, at("11-02"), at("11-03", "06:00"), reopened=at("11-07", "09:00"))),
        Issue("1040", "OPS-40", at("11-02"),
              [move(400, at("11-03"), "WEB-7", "OPS-40"), *flow(401, at("11-05"), at("11-06", "12:00"))]),
        Issue("2009", "WEB-9", at("11-01"), flow(90, at("11-02"), at("11-07", "10:00"))),
        Issue("3001", "REL-1", at("11-02"), flow(310, at("11-02", "12:00"), at("11-03", "10:00")),
              fix_versions=[version("501", "1.9", True, "2026-11-04"), version("502", "2.0", False, "2026-11-06"),
                            version("503", "2.1", True, "2026-11-09")]),
        Issue("3002", "REL-2", at("11-02"), flow(320, None, at("11-03", "10:00")),
              fix_versions=[version("504", "3.0", False, "2026-11-20")]),
    ]


# The versions stream (GET /project/{key}/version, Jira Cloud REST v3 `Version`): 1.9 un-released and 2.0 released
# since REL-1 was read; REL-2's 3.0 as stored. 2.1 is not listed (the stored copy is used).
VERSIONS = [{**version("501", "1.9", False, "2026-11-04"), "projectId": 10002},
            {**version("502", "2.0", True, "2026-11-06"), "projectId": 10002},
            {**version("504", "3.0", False, "2026-11-20"), "projectId": 10002, "overdue": False}]


def load_jira(path: Path, loaded: list[Issue], loaded_at: datetime) -> None:
    ts = h.parse_ts
    con = duckdb.connect(str(path))
    try:
        for issue in loaded:
            con.execute("insert or replace into raw.jira__issues values (?, ?, ?, ?, ?)",
                        [issue.id, ts(issue.record["fields"]["updated"]), json.dumps(issue.record), h.BATCH_ID,
                         loaded_at])
            for entry in issue.histories:
                con.execute("insert or replace into raw.jira__issue_changelogs values (?, ?, ?, ?, ?, ?)",
                            [issue.id, entry["id"], ts(entry["created"]), json.dumps(entry), h.BATCH_ID, loaded_at])
        for status_id, (name, category) in STATUSES.items():
            con.execute("insert or replace into raw.jira__statuses values (?, ?, ?, ?, ?, ?)",
                        [status_id, name, category, json.dumps({"id": status_id, "name": name}), h.BATCH_ID,
                         loaded_at])
        for key, (project_id, name) in PROJECTS.items():
            con.execute("insert or replace into raw.jira__projects values (?, ?, ?, ?, ?, ?)",
                        [project_id, key, name, json.dumps({"id": project_id, "key": key}), h.BATCH_ID, loaded_at])
        for v in VERSIONS:
            con.execute("insert or replace into raw.jira__versions values (?, ?, ?, ?, ?, ?, ?, ?)",
                        [v["id"], str(v["projectId"]), v["name"], "true" if v["released"] else "false",
                         v.get("releaseDate"), json.dumps(v), h.BATCH_ID, loaded_at])
        con.execute("delete from raw.config__projects")
        con.executemany("insert into raw.config__projects values (?, ?)", sorted(TEAMS.items()))
    finally:
        con.close()


# --- GitHub records -----------------------------------------------------------------------------------------------


def pull(number: int, title: str, head: str, merged: str) -> dict[str, Any]:
    """A pull request merged into main, REST-shaped (staging reads REST and GraphQL shapes alike)."""
    record = h.github_pull(number, "2026-09-01T00:00:00Z", merged, state="closed", closed_at=merged, merged_at=merged)
    record["title"] = title
    record["head"]["ref"] = head
    return record


def commit_record(sha: str, authored: str, message: str) -> dict[str, Any]:
    return {"sha": sha, "commit": {"author": {"name": "A", "email": "a@x", "date": authored},
                                   "committer": {"name": "A", "email": "a@x", "date": authored},
                                   "message": message},
            "author": {"login": "octocat"}, "committer": {"login": "octocat"}, "parents": []}


# (repo, number, title, head ref, merged at, commit messages)
PULLS = [
    (API, 1, "OPS-12 part 1", "opskpi-a", "2026-11-02T12:00:00Z", ()),
    (API, 14, "OPS-21 x", "n", "2026-11-02T18:00:00Z", ()),
    (API, 2, "OPS-12 part 2", "b", "2026-11-04T12:00:00Z", ()),
    (API, 3, "fix cache", "ops-12-cache", "2026-11-04T13:00:00Z", ("OPS-13 wip",)),
    (API, 4, "[OPS-12][OPS-13] x", "d", "2026-11-04T14:00:00Z", ()),
    (API, 5, "tidy", "tidy-up", "2026-11-06T10:00:00Z", ("OPS-14: wip", "more")),
    (API, 6, "Bump RELEASE-2024", "bump", "2026-11-06T11:00:00Z", ("OPS-14 more",)),
    (API, 7, "Bump deps", "deps", "2026-11-06T11:30:00Z", ("deps",)),
    (API, 8, "WEB-7 fix", "h", "2026-11-06T10:30:00Z", ()),
    (API, 9, "WEB-9 tweak", "i", "2026-11-06T11:45:00Z", ()),
    (API, 10, "OPS-16 initial", "j", "2026-10-04T12:00:00Z", ()),
    (API, 11, "OPS-16 follow-up", "k", "2026-11-04T00:00:00Z", ()),
    (API, 12, "OPS-18 hotfix", "l", "2026-11-07T12:00:00Z", ()),
    (API, 13, "OPS-15 thing", "g", "2026-11-09T09:00:00Z", ()),
    (LEGACY, 1, "OPS-19 port", "m", "2026-10-20T00:00:00Z", ()),
]
# Arrives with the late load: a pull request for OPS-20 merged before it was done, deployed by D3.
LATE_PULL = (API, 15, "OPS-20 forgot to link", "q", "2026-11-06T08:00:00Z", ())


def github(pulls: list[tuple]) -> tuple[Github, list[tuple[str, dict]]]:
    gh = Github()
    gh.repos = [(API, "platform"), (LEGACY, "platform")]
    for dep_id, day in ((1, "2026-10-01T00:00:00Z"), (2, "2026-10-06T00:00:00Z"), (3, "2026-11-03T00:00:00Z"),
                        (4, "2026-11-05T00:00:00Z"), (5, "2026-11-08T12:00:00Z")):
        gh.deploy(API, dep_id, "production", day, ("success", day))
    gh.deploy(LEGACY, 90, "production", "2026-11-05T00:00:00Z", ("success", "2026-11-05T00:00:00Z"))
    records = []
    for repo, number, title, head, merged, messages in pulls:
        record = pull(number, title, head, merged)
        records.append((repo, record))
        for k, message in enumerate(messages):
            gh.commits.append((repo, number, merged, commit_record(f"{repo}-{number}-{k}", merged, message)))
    return gh, records


def build(work_dir: Path) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    warehouse = work_dir / "warehouse.duckdb"
    gh, records = github(PULLS)
    h.create_warehouse(warehouse, h.RawData(github_pulls=records, config_services=[("PUNUSED", None, None)]),
                       loaded_at=LOADED)
    gh.write(warehouse)
    load_jira(warehouse, issues(), LOADED)
    h.check_dbt_build(warehouse, VARS, work_dir, SELECT)
    # the snapshot's area model of this KPI area (and what it reads), not the whole snapshot: it reads every area
    h.check_dbt_build(warehouse, VARS, work_dir, ["--select", "+int_kpi_snapshot__lead_time_e2e",
                                                  "--indirect-selection", "cautious"])
    return warehouse


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory) -> dict[str, Path]:
    """The first build; a backfill of 11-05 on a copy of it; then the late-arriving load and a rebuild of the
    same run date."""
    work = tmp_path_factory.mktemp("e2e")
    first = build(work / "first")
    first_copy = work / "first_copy"
    first_copy.mkdir()
    shutil.copy2(first, first_copy / "warehouse.duckdb")

    backfill = work / "backfill"
    backfill.mkdir()
    shutil.copy2(first, backfill / "warehouse.duckdb")
    h.check_dbt_build(backfill / "warehouse.duckdb",
                      {**VARS, "run_date": "2026-11-05", "as_of": "2026-11-06T00:00:00Z"}, backfill, SELECT)

    # without var jira_projects the configured projects are those the projects stream read: OPS, WEB and REL
    projects_stream = work / "projects_stream"
    projects_stream.mkdir()
    shutil.copy2(first, projects_stream / "warehouse.duckdb")
    h.check_dbt_build(projects_stream / "warehouse.duckdb", {k: v for k, v in VARS.items() if k != "jira_projects"},
                      projects_stream, ["--select", "int_jira_github_links"])

    late = work / "late"
    late.mkdir()
    shutil.copy2(first, late / "warehouse.duckdb")
    load_late(late / "warehouse.duckdb")
    h.check_dbt_build(late / "warehouse.duckdb", VARS, late, SELECT)
    return {"first": first_copy / "warehouse.duckdb", "backfill": backfill / "warehouse.duckdb",
            "late": late / "warehouse.duckdb", "projects_stream": projects_stream / "warehouse.duckdb"}


def load_late(warehouse: Path) -> None:
    """The late-arriving load (same run date, loaded a day later): D4's deployment and its success status at 11-10
    08:00, and OPS-20's pull request, which was merged 11-06 08:00 but read only now."""
    _, records = github([LATE_PULL])
    h.load_raw(warehouse, h.RawData(github_pulls=records, config_services=[("PUNUSED", None, None)]),
               loaded_at=LATE_LOADED)
    late = Github()
    late.deploy(API, 6, "production", "2026-11-10T08:00:00Z", ("success", "2026-11-10T08:00:00Z"))
    con = duckdb.connect(str(warehouse))
    try:
        ts = h.parse_ts
        for repo, d in late.deployments:
            con.execute("insert into raw.github__deployments values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [repo, d["id"], d["environment"], d["sha"], ts(d["created_at"]), ts(d["updated_at"]),
                         json.dumps(d), h.BATCH_ID, LATE_LOADED])
        for repo, dep_id, s in late.statuses:
            con.execute("insert into raw.github__deployment_statuses values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [repo, dep_id, s["node_id"], s["state"], s["environment"], ts(s["created_at"]),
                         json.dumps(s), h.BATCH_ID, LATE_LOADED])
    finally:
        con.close()


def rows(warehouse: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    return h.query(warehouse, sql, params)


def delivery(warehouse: Path) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in rows(warehouse, "select * from marts.fct_issue_delivery")}


def links(warehouse: Path) -> set[tuple[str, str, int, str]]:
    return {(r["issue_key"], r["repo"], r["pull_number"], r["link_source"])
            for r in rows(warehouse, "select * from intermediate.int_jira_github_links")}


def daily(warehouse: Path, day: str, scope_type: str = "org", scope_id: str = "org") -> dict[str, Any]:
    (row,) = rows(warehouse, "select * from marts.mart_e2e_lead_time_daily "
                             "where day = ? and scope_type = ? and scope_id = ?",
                  date.fromisoformat(day), scope_type, scope_id)
    return row


def utc(day: str, time: str = "00:00") -> datetime:
    return datetime.fromisoformat(f"2026-{day}T{time}:00+00:00")


# --- the links ----------------------------------------------------------------------------------------------------


def test_links_and_their_sources(warehouses):
    assert links(warehouses["first"]) == {
        ("OPS-12", API, 1, "title"), ("OPS-12", API, 2, "title"), ("OPS-12", API, 3, "head_ref"),
        ("OPS-12", API, 4, "title"), ("OPS-13", API, 4, "title"),
        ("OPS-14", API, 5, "commit"), ("OPS-14", API, 6, "commit"),
        ("OPS-15", API, 13, "title"), ("OPS-16", API, 10, "title"), ("OPS-16", API, 11, "title"),
        ("OPS-18", API, 12, "title"), ("OPS-21", API, 14, "title"), ("OPS-40", API, 8, "title"),
        ("OPS-19", LEGACY, 1, "title"),
    }


def test_case3_title_and_branch_keys_commits_only_when_neither_names_one(warehouses):
    """Contract case 3. #3: title "fix cache", head ref `ops-12-cache` (upper-cased: OPS-12), commit "OPS-13 wip":
    the branch names an issue, so the commits are not read: OPS-12 only. #4 "[OPS-12][OPS-13] x": both keys in
    brackets, next to each other: both issues."""
    found = links(warehouses["first"])
    assert {(k, n) for k, r, n, _ in found if n in (3, 4) and r == API} == {
        ("OPS-12", 3), ("OPS-12", 4), ("OPS-13", 4)}
    # #5 "tidy" / tidy-up names nothing: its commit "OPS-14: wip" links; #6 "Bump RELEASE-2024" names a key of no
    # configured project and no stored issue, which is no key: its commit "OPS-14 more" is read. #7 has no key.
    assert ("OPS-14", API, 5, "commit") in found and ("OPS-14", API, 6, "commit") in found
    assert not [n for _, r, n, _ in found if r == API and n == 7]


def test_case4_a_moved_issue_is_linked_by_its_former_key(warehouses):
    """Contract case 4: WEB-7 moved to OPS-40 (changelog `Key` item); "WEB-7 fix" links to OPS-40 although WEB is not
    a configured project. "WEB-9 tweak" names a current key of an unconfigured project: no link."""
    (row,) = rows(warehouses["first"], "select * from intermediate.int_jira_github_links where pull_number = 8")
    assert (row["issue_key"], row["named_key"], row["link_source"]) == ("OPS-40", "WEB-7", "title")
    assert not rows(warehouses["first"], "select * from intermediate.int_jira_github_links where pull_number = 9")


def test_without_the_var_the_projects_read_from_jira_are_the_configured_ones(warehouses):
    """var jira_projects null (a build outside the pipeline): WEB, read by the projects stream, counts as configured,
    so "WEB-9 tweak" links to WEB-9; everything else is linked as before."""
    found = links(warehouses["projects_stream"])
    assert found == links(warehouses["first"]) | {("WEB-9", API, 9, "title")}


# --- the issues ---------------------------------------------------------------------------------------------------


def test_case1_delivered_when_the_last_linked_pull_request_is_deployed(warehouses):
    """Contract case 1: OPS-12 created 11-01 00:00; PR a deployed 11-03 00:00 (D1), PRs b, c, d 11-05 00:00 (D2):
    delivered 11-05 00:00 (the latest), idea to deploy 4 d = 345 600 s; started 11-01 06:00: 3 d 18 h = 324 000 s."""
    row = delivery(warehouses["first"])["OPS-12"]
    assert row["delivery_status"] == "delivered"
    assert row["delivered_at"] == utc("11-05")
    assert row["delivered_day"] == date(2026, 11, 5)
    assert (row["idea_to_deploy_s"], row["start_to_deploy_s"]) == (345_600, 324_000)
    assert row["linked_pull_requests"] == 4
    # OPS-13 (only #4): created 11-02 00:00, delivered 11-05 00:00 = 259 200 s; never in progress: no start span
    ops13 = delivery(warehouses["first"])["OPS-13"]
    assert (ops13["idea_to_deploy_s"], ops13["start_to_deploy_s"]) == (259_200, None)


def test_case2_merged_but_not_deployed_is_pending_and_linked(warehouses):
    """Contract case 2: OPS-15's PR #13 merged 11-09 09:00, no deployment after it by as_of: pending, no sample, but it
    counts as linked for the coverage."""
    row = delivery(warehouses["first"])["OPS-15"]
    assert (row["delivery_status"], row["delivered_at"], row["idea_to_deploy_s"]) == ("pending", None, None)
    assert row["has_linked_pull_request"] and row["pending_pull_requests"] == 1
    # done 11-09: OPS-15 (pending, linked) and OPS-18 (linked): coverage 2 / 2 = 100 %, pending 1
    day = daily(warehouses["first"], "2026-11-09")
    assert (day["done_eligible"], day["done_linked"], day["link_coverage_pct"], day["pending"]) == (2, 2, 100.0, 1)


def test_case5_a_late_follow_up_is_counted_and_ignored(warehouses):
    """Contract case 5 (a): OPS-16 done 10-05 00:00; #10 merged 10-04 12:00 -> D0b 10-06 00:00; #11 merged 11-04 00:00,
    30 days after the done (grace 7 d), would be deployed 11-05 by D2: a late link, ignored. Delivered 10-06 00:00:
    idea 5 d = 432 000 s, start (10-02) 4 d = 345 600 s."""
    row = delivery(warehouses["first"])["OPS-16"]
    assert (row["linked_pull_requests"], row["late_links"]) == (1, 1)
    assert row["delivered_at"] == utc("10-06")
    assert (row["idea_to_deploy_s"], row["start_to_deploy_s"]) == (432_000, 345_600)
    assert daily(warehouses["first"], "2026-10-05")["late_links"] == 1
    assert daily(warehouses["first"], "2026-10-06")["idea_to_deploy_s_p50"] == 432_000


def test_case5_wont_do_is_not_in_the_coverage_denominator(warehouses):
    """Contract case 5 (b): OPS-17 resolved "Won't Do" 11-06 09:00: not eligible. Done on 11-06 and eligible: OPS-19
    (linked; unknown), OPS-20 (no link), OPS-40 (linked): coverage 2 / 3."""
    row = delivery(warehouses["first"])["OPS-17"]
    assert (row["resolution"], row["is_eligible"], row["delivery_status"]) == ("Won't Do", False, "not_eligible")
    day = daily(warehouses["first"], "2026-11-06")
    assert (day["done_eligible"], day["done_linked"]) == (3, 2)
    assert day["link_coverage_pct"] == pytest.approx(200 / 3)
    # per project: the same three are OPS's; team platform is OPS
    assert daily(warehouses["first"], "2026-11-06", "project", "OPS")["link_coverage_pct"] == pytest.approx(200 / 3)
    assert daily(warehouses["first"], "2026-11-06", "team", "platform")["done_eligible"] == 3


def test_case6_an_issue_created_after_its_deploy_is_clamped_and_counted(warehouses):
    """Contract case 6: OPS-18 created 11-09 00:00; its PR #12 was deployed 11-08 12:00 (D3): -43 200 s, clamped to 0
    and counted in created_after_deploy on 11-08."""
    row = delivery(warehouses["first"])["OPS-18"]
    assert (row["idea_to_deploy_s"], row["is_created_after_deploy"]) == (0, True)
    assert row["delivered_day"] == date(2026, 11, 8)
    assert daily(warehouses["first"], "2026-11-08")["created_after_deploy"] == 1


def test_missing_deploy_history_makes_the_issue_unknown(warehouses):
    """OPS-19's PR merged 10-20 into acme/legacy, whose first known deployment is 11-05 (L1): the PR's deployment
    would be L1, 16 days later. The issue is unknown (no sample), counted on its done day 11-06."""
    row = delivery(warehouses["first"])["OPS-19"]
    assert (row["delivery_status"], row["deploy_history_missing_pulls"]) == ("unknown", 1)
    assert row["idea_to_deploy_s"] is None
    assert daily(warehouses["first"], "2026-11-06")["deploy_history_missing"] == 1


def test_release_based_project_delivers_at_the_end_of_its_release_day(warehouses):
    """REL-1: fix versions 1.9 (unreleased), 2.0 (released 11-06), 2.1 (released 11-09): delivered at the end of 11-06
    (11-07 00:00 UTC), counted on 11-06 itself: idea 11-02 00:00 -> 11-07 00:00 = 432 000 s, start (11-02 12:00)
    388 800 s. REL-2's only version is unreleased: pending. Neither has a linked PR: 11-03 coverage 0 / 2."""
    found = delivery(warehouses["first"])
    rel1 = found["REL-1"]
    assert (rel1["delivery_status"], rel1["released_on"], rel1["delivered_at"]) == (
        "delivered", date(2026, 11, 6), utc("11-07"))
    assert (rel1["delivered_day"], rel1["idea_to_deploy_s"], rel1["start_to_deploy_s"]) == (
        date(2026, 11, 6), 432_000, 388_800)
    assert found["REL-2"]["delivery_status"] == "pending"
    day = daily(warehouses["first"], "2026-11-06", "project", "REL")
    assert (day["e2e_sample_size"], day["idea_to_deploy_s_p50"]) == (1, 432_000)
    assert daily(warehouses["first"], "2026-11-06", "team", "mobile")["e2e_sample_size"] == 1
    assert daily(warehouses["first"], "2026-11-03")["link_coverage_pct"] == 0.0


def test_release_flags_come_from_the_versions_stream(warehouses):
    """REL-1 was stored with 2.0 unreleased and 1.9 released 11-04; the versions stream, read since, has 2.0 released
    11-06 and 1.9 un-released. By the stored copies REL-1 would be delivered at the end of 11-04 (11-05 00:00); by the
    stream it is delivered at the end of 11-06 (11-07 00:00), counted on 11-06. (2.1, released 11-09 in its stored
    copy and absent from the stream, is later: it changes nothing.)"""
    rel1 = delivery(warehouses["first"])["REL-1"]
    assert (rel1["delivery_status"], rel1["released_on"], rel1["delivered_at"], rel1["delivered_day"]) == (
        "delivered", date(2026, 11, 6), utc("11-07"), date(2026, 11, 6))
    staged = {r["version_id"]: (r["is_released"], r["release_date"], r["project_id"])
              for r in rows(warehouses["first"], "select * from staging.stg_jira__versions")}
    assert staged == {"501": (False, date(2026, 11, 4), "10002"), "502": (True, date(2026, 11, 6), "10002"),
                      "504": (False, date(2026, 11, 20), "10002")}


def test_daily_percentiles_pool_the_delivered_issues(warehouses):
    """11-05 org: OPS-12 345 600 and OPS-13 259 200: p50 302 400, p85 259 200 + 0.85 x 86 400 = 332 640; start to
    deploy only OPS-12's 324 000 (OPS-13 never in progress). 11-08 org: OPS-40 (11-02 00:00 -> 11-08 12:00 = 561 600;
    started 11-05 00:00: 302 400) and OPS-18 (0): p50 280 800, p85 0.85 x 561 600 = 477 360."""
    day = daily(warehouses["first"], "2026-11-05")
    assert (day["e2e_sample_size"], day["idea_to_deploy_s_p50"]) == (2, 302_400)
    assert day["idea_to_deploy_s_p85"] == pytest.approx(332_640)
    assert (day["start_to_deploy_sample_size"], day["start_to_deploy_s_p50"]) == (1, 324_000)
    day = daily(warehouses["first"], "2026-11-08")
    assert (day["e2e_sample_size"], day["idea_to_deploy_s_p50"]) == (2, 280_800)
    assert day["idea_to_deploy_s_p85"] == pytest.approx(477_360)
    assert (day["start_to_deploy_sample_size"], day["start_to_deploy_s_p50"]) == (1, 302_400)


def test_an_empty_day_is_null_with_sample_size_zero(warehouses):
    day = daily(warehouses["first"], "2026-11-02")
    assert (day["e2e_sample_size"], day["idea_to_deploy_s_p50"], day["done_eligible"], day["link_coverage_pct"]) == (
        0, None, 0, None)


def test_grid_is_dense_per_scope_and_day(warehouses):
    """Every scope (org; teams platform, mobile, unassigned; projects OPS, WEB, REL) x every day from the first
    issue's day (10-01) to run_date (11-10): 41 days."""
    grid = rows(warehouses["first"], "select scope_type, scope_id, count(*) as days, min(day) as first, "
                                     "max(day) as last from marts.mart_e2e_lead_time_daily group by 1, 2 order by 1, 2")
    assert [(r["scope_type"], r["scope_id"]) for r in grid] == [
        ("org", "org"), ("project", "OPS"), ("project", "REL"), ("project", "WEB"),
        ("team", "mobile"), ("team", "platform"), ("team", "unassigned")]
    assert {(r["days"], r["first"], r["last"]) for r in grid} == {(41, date(2026, 10, 1), date(2026, 11, 10))}


# --- replay: a backfill of a past day, late-arriving data ---------------------------------------------------------


def test_backfill_replays_the_past_day_as_of_its_end(warehouses):
    """Backfill run_date 11-05 (as_of 11-06 00:00) on the same data. OPS-21 was done 11-03 06:00 and reopened only on
    11-07: then it was eligible, its PR #14 deployed by D1 11-03 00:00: idea 11-01 12:00 -> 11-03 00:00 = 129 600 s,
    start (11-02 00:00) 86 400 s. 11-03 coverage: OPS-21 linked, REL-1 and REL-2 not: 1 / 3. REL-1's release day
    11-06 has not ended: pending. OPS-40 and OPS-19 are not done yet; OPS-15 and OPS-18 do not exist."""
    found = delivery(warehouses["backfill"])
    assert "OPS-15" not in found and "OPS-18" not in found
    assert (found["OPS-21"]["delivery_status"], found["OPS-21"]["idea_to_deploy_s"],
            found["OPS-21"]["start_to_deploy_s"]) == ("delivered", 129_600, 86_400)
    assert found["REL-1"]["delivery_status"] == "pending"
    assert found["OPS-40"]["is_eligible"] is False and found["OPS-19"]["is_eligible"] is False
    day = daily(warehouses["backfill"], "2026-11-03")
    assert (day["e2e_sample_size"], day["idea_to_deploy_s_p50"], day["done_eligible"], day["done_linked"]) == (
        1, 129_600, 3, 1)
    assert day["link_coverage_pct"] == pytest.approx(100 / 3)
    # the 11-05 figures are those of the run of 11-10 (nothing after 11-05 changed them)
    assert daily(warehouses["backfill"], "2026-11-05")["idea_to_deploy_s_p50"] == 302_400
    assert rows(warehouses["backfill"], "select max(day) as last from marts.mart_e2e_lead_time_daily")[0]["last"] == (
        date(2026, 11, 5))
    # the run of 11-10 sees OPS-21 reopened: no sample on 11-03, coverage 0 / 2 (REL-1, REL-2)
    final = daily(warehouses["first"], "2026-11-03")
    assert (final["e2e_sample_size"], final["done_eligible"], final["done_linked"]) == (0, 2, 0)
    assert delivery(warehouses["first"])["OPS-21"]["delivery_status"] == "not_eligible"


def test_late_arriving_data_changes_past_days_at_the_next_build(warehouses):
    """The late load (same run date) brings D4's success at 11-10 08:00 and OPS-20's PR #15 (merged 11-06 08:00, so
    deployed by D3 11-08 12:00). OPS-15 is delivered 11-10 08:00: idea 11-08 00:00 -> 2 d 8 h = 201 600 s, start
    (11-08 06:00) 180 000 s. OPS-20: 11-05 00:00 -> 11-08 12:00 = 302 400 s, start (11-05 12:00) 259 200 s.
    11-08 org: 561 600, 0 and 302 400: p50 302 400; 11-06 coverage 3 / 3; 11-09 nothing pending."""
    found = delivery(warehouses["late"])
    assert (found["OPS-15"]["delivered_at"], found["OPS-15"]["idea_to_deploy_s"],
            found["OPS-15"]["start_to_deploy_s"]) == (utc("11-10", "08:00"), 201_600, 180_000)
    assert (found["OPS-20"]["delivered_at"], found["OPS-20"]["idea_to_deploy_s"],
            found["OPS-20"]["start_to_deploy_s"]) == (utc("11-08", "12:00"), 302_400, 259_200)
    assert ("OPS-20", API, 15, "title") in links(warehouses["late"])
    day = daily(warehouses["late"], "2026-11-08")
    assert (day["e2e_sample_size"], day["idea_to_deploy_s_p50"]) == (3, 302_400)
    assert daily(warehouses["late"], "2026-11-06")["link_coverage_pct"] == 100.0
    assert daily(warehouses["late"], "2026-11-09")["pending"] == 0
    assert daily(warehouses["late"], "2026-11-10")["idea_to_deploy_s_p50"] == 201_600


# --- the snapshot -------------------------------------------------------------------------------------------------


def snapshot(warehouse: Path, window: str, scope_type: str = "org", scope_id: str = "org") -> dict[str, tuple]:
    found = rows(warehouse, "select kpi, value, unit, sample_size from intermediate.int_kpi_snapshot__lead_time_e2e "
                            "where snapshot_date = date '2026-11-10' and \"window\" = ? and scope_type = ? "
                            "and scope_id = ?", window, scope_type, scope_id)
    return {r["kpi"]: (r["value"], r["unit"], r["sample_size"]) for r in found}


def test_snapshot_windows_pool_the_issues(warehouses):
    """Snapshot of 11-10. 1d: nothing delivered or done on 11-10: NULL with 0. 7d (11-04..11-10): delivered 11-05
    OPS-12 345 600 and OPS-13 259 200, 11-06 REL-1 432 000, 11-08 OPS-40 561 600 and OPS-18 0: sorted 0, 259 200,
    345 600, 432 000, 561 600 -> p50 345 600 (5); start: OPS-12 324 000, REL-1 388 800, OPS-40 302 400 -> 324 000 (3).
    Done and eligible: 11-04 OPS-12, OPS-13 (linked); 11-06 OPS-19, OPS-40 (linked), OPS-20; 11-07 WEB-9; 11-09
    OPS-15, OPS-18 (linked): 6 / 8 = 75 %. 30d (10-12..11-10) adds 11-03 REL-1 and REL-2 (unlinked): 6 / 10 = 60 %,
    the same five delivered (OPS-16's 10-06 is before the window)."""
    first = warehouses["first"]
    assert snapshot(first, "1d") == {"e2e_lead_time_p50": (None, "s", 0), "start_to_deploy_p50": (None, "s", 0),
                                     "e2e_link_coverage": (None, "pct", 0)}
    assert snapshot(first, "7d") == {"e2e_lead_time_p50": (345_600, "s", 5), "start_to_deploy_p50": (324_000, "s", 3),
                                     "e2e_link_coverage": (75.0, "pct", 8)}
    assert snapshot(first, "30d") == {"e2e_lead_time_p50": (345_600, "s", 5),
                                      "start_to_deploy_p50": (324_000, "s", 3), "e2e_link_coverage": (60.0, "pct", 10)}
    # REL (team mobile) over 30 days: REL-1 only, no link among REL-1 and REL-2
    assert snapshot(first, "30d", "project", "REL") == snapshot(first, "30d", "team", "mobile") == {
        "e2e_lead_time_p50": (432_000, "s", 1), "start_to_deploy_p50": (388_800, "s", 1),
        "e2e_link_coverage": (0.0, "pct", 2)}


def test_snapshot_kpis_are_in_the_catalog():
    import csv

    with (h.DBT_PROJECT_DIR / "seeds" / "kpi_catalog.csv").open() as f:
        catalog = {row["kpi"]: row for row in csv.DictReader(f)}
    assert {k: (catalog[k]["unit"], catalog[k]["direction"]) for k in
            ("e2e_lead_time_p50", "start_to_deploy_p50", "e2e_link_coverage")} == {
        "e2e_lead_time_p50": ("s", "lower"), "start_to_deploy_p50": ("s", "lower"),
        "e2e_link_coverage": ("pct", "higher")}
