"""Jira emulation: enhanced JQL search paging, fields, maxResults caps, JQL filters, 410, changelog."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from emulator.server import start_emulator

AUTH = ("demo@example.com", "jira-demo-token")


@pytest.fixture(scope="module")
def emu():
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as handle:
        yield handle


@pytest.fixture(scope="module")
def session():
    s = requests.Session()
    s.auth = AUTH
    return s


def search(session, emu, **params) -> requests.Response:
    return session.get(emu.jira_url + "/rest/api/3/search/jql", params=params)


def walk(session, emu, jql: str, **params) -> tuple[list[dict], int]:
    issues, pages, token = [], 0, None
    while True:
        query = {"jql": jql, **params, **({"nextPageToken": token} if token else {})}
        body = search(session, emu, **query).json()
        pages += 1
        issues += body["issues"]
        assert set(body) <= {"issues", "nextPageToken", "isLast", "names"}
        if body["isLast"]:
            assert "nextPageToken" not in body
            return issues, pages
        token = body["nextPageToken"]


def _jira_ts(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def test_pagination_walk_returns_every_issue_once(emu, session):
    issues, pages = walk(
        session,
        emu,
        "project in (OPS, WEB) ORDER BY updated ASC, key ASC",
        fields="key,updated",
        maxResults=25,
    )
    ids = [i["id"] for i in issues]
    assert len(ids) == len(set(ids)) > 250 and pages > 10
    count = session.post(
        emu.jira_url + "/rest/api/3/search/approximate-count", json={"jql": "project in (OPS, WEB)"}
    ).json()["count"]
    assert count == len(ids)
    updated = [_jira_ts(i["fields"]["updated"]) for i in issues]
    assert updated == sorted(updated)


def test_post_search_accepts_sdk_body_with_nulls(emu, session):
    body = {
        "jql": "project = OPS",
        "fields": ["summary", "status"],
        "expand": None,
        "properties": None,
        "reconcileIssues": [],
        "maxResults": 100,
        "nextPageToken": None,
    }
    first = session.post(emu.jira_url + "/rest/api/3/search/jql", json=body).json()
    assert len(first["issues"]) == 100 and first["isLast"] is False
    second = session.post(
        emu.jira_url + "/rest/api/3/search/jql", json={**body, "nextPageToken": first["nextPageToken"]}
    ).json()
    assert not {i["id"] for i in first["issues"]} & {i["id"] for i in second["issues"]}
    assert set(second["issues"][0]["fields"]) == {"summary", "status"}


def test_default_fields_are_ids_only(emu, session):
    body = search(session, emu, jql="project = OPS").json()
    assert len(body["issues"]) == 50
    assert all(set(i) == {"id"} for i in body["issues"])


def test_max_results_caps(emu, session):
    assert (
        len(search(session, emu, jql="project = OPS", fields="summary", maxResults=500).json()["issues"])
        == 100
    )
    ids_only = search(session, emu, jql="project in (OPS, WEB)", fields="id", maxResults=5000).json()
    assert ids_only["isLast"] is True and len(ids_only["issues"]) > 250


def test_fields_star_all_and_exclusion(emu, session):
    issue = search(session, emu, jql="project = OPS", fields="*all,-description", maxResults=1).json()[
        "issues"
    ][0]
    fields = issue["fields"]
    for name in (
        "created",
        "updated",
        "resolutiondate",
        "status",
        "issuetype",
        "priority",
        "labels",
        "project",
        "summary",
        "assignee",
    ):
        assert name in fields
    assert "description" not in fields
    assert issue["self"] == f"{emu.jira_url}/rest/api/3/issue/{issue['id']}"
    assert fields["status"]["statusCategory"]["key"] in {"new", "indeterminate", "done"}


def test_updated_epoch_ms_filter(emu, session):
    cutoff = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
    ms = int(cutoff.timestamp() * 1000)
    issues, _ = walk(
        session,
        emu,
        f"project in (OPS, WEB) AND updated >= {ms} ORDER BY updated ASC",
        fields="updated",
        maxResults=100,
    )
    assert issues and all(_jira_ts(i["fields"]["updated"]) >= cutoff for i in issues)
    every, _ = walk(session, emu, "project in (OPS, WEB)", fields="updated", maxResults=100)
    expected = [i for i in every if _jira_ts(i["fields"]["updated"]) >= cutoff]
    assert len(expected) == len(issues)
    upper, _ = walk(session, emu, f"project = OPS AND updated <= {ms}", fields="updated", maxResults=100)
    assert upper and all(_jira_ts(i["fields"]["updated"]) <= cutoff for i in upper)


def test_quoted_dates_are_in_the_users_time_zone(emu, session):
    me = session.get(emu.jira_url + "/rest/api/3/myself").json()
    assert me["timeZone"] == "America/Los_Angeles" and me["emailAddress"] == AUTH[0]
    # 2026/11/10 00:00 in Los Angeles is 08:00Z.
    quoted, _ = walk(
        session, emu, 'project in (OPS, WEB) AND updated >= "2026/11/10 00:00"', fields="id", maxResults=1000
    )
    ms = int(dt.datetime(2026, 11, 10, 8, tzinfo=dt.UTC).timestamp() * 1000)
    epoch, _ = walk(session, emu, f"project in (OPS, WEB) AND updated >= {ms}", fields="id", maxResults=1000)
    assert {i["id"] for i in quoted} == {i["id"] for i in epoch}


def test_unbounded_or_invalid_jql_is_400(emu, session):
    for jql in (
        "",
        "ORDER BY key DESC",
        "project = OPS AND",
        "updated >>= 1",
        "nosuchfield = 1",
        "project = NOPE",
    ):
        r = search(session, emu, jql=jql)
        assert r.status_code == 400, jql
        body = r.json()
        assert body["errors"] == {} and body["errorMessages"]
    assert session.get(emu.jira_url + "/rest/api/3/search/jql").status_code == 400


def test_old_search_is_gone(emu, session):
    for method in ("get", "post"):
        r = getattr(session, method)(emu.jira_url + "/rest/api/3/search", params={"jql": "project = OPS"})
        assert r.status_code == 410
        assert r.json() == {
            "errorMessages": [
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                "A full migration guideline is available at "
                "https://developer.atlassian.com/changelog/#CHANGE-2046"
            ],
            "errors": {},
        }


def test_expand_changelog_is_truncated_newest_first(emu, session):
    issues, _ = walk(
        session, emu, "project in (OPS, WEB)", fields="status", expand="changelog", maxResults=100
    )
    logs = [i["changelog"] for i in issues]
    long = [c for c in logs if c["total"] > 20]
    assert long and all(len(c["histories"]) == 20 for c in long)
    some = next(c for c in logs if len(c["histories"]) > 1)
    created = [_jira_ts(h["created"]) for h in some["histories"]]
    assert created == sorted(created, reverse=True)
    key = next(i for i in issues if i["changelog"]["total"] > 20)["id"]
    full = session.get(f"{emu.jira_url}/rest/api/3/issue/{key}/changelog", params={"maxResults": 100}).json()
    assert full["total"] > 20 and len(full["values"]) == full["total"] and full["isLast"] is True


def test_timestamps_have_millis_and_colonless_offset(emu, session):
    issue = search(session, emu, jql="project = OPS", fields="created,updated", maxResults=1).json()[
        "issues"
    ][0]
    assert issue["fields"]["created"][-5:] in ("-0800", "-0700")
    assert _jira_ts(issue["fields"]["created"]) <= _jira_ts(issue["fields"]["updated"])


def test_sdk_metadata_endpoints(emu, session):
    info = requests.get(emu.jira_url + "/rest/api/3/serverInfo").json()
    assert info["deploymentType"] == "Cloud" and isinstance(info["versionNumbers"], list)
    fields = session.get(emu.jira_url + "/rest/api/3/field").json()
    assert fields and all("clauseNames" in f for f in fields)
