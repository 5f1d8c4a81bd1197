"""The `jira` library (3.10) pages Jira Cloud's enhanced search and the changelogs through the emulator."""

from __future__ import annotations

from collections import Counter

import pytest

from emulator.gen_jira_versions import is_release_project, project_versions
from emulator.jira import EMBEDDED_CHANGELOG_MAX
from emulator.timefmt import parse_iso

pytestmark = pytest.mark.referee

jira = pytest.importorskip("jira")

FIELDS = ["summary", "status", "created", "updated", "resolutiondate", "issuetype", "priority", "labels", "project",
          "assignee"]


@pytest.fixture(scope="module")
def client(emu):
    """As documented for Cloud: server info first (deploymentType "Cloud" unlocks enhanced search), v3 paths."""
    return jira.JIRA(server=emu.jira_url, basic_auth=(emu.credentials.jira_email, emu.credentials.jira_token),
                     options={"rest_api_version": "3"}, max_retries=0)


def expected_issues(emu, projects: set[str]) -> dict:
    data, now = emu.app.world.jira, emu.app.clock.now_ms
    return {issue.id: (issue, st) for issue, st in data.views(now) if st.project_key in projects}


def once(ids: list[str]) -> set[str]:
    counts = Counter(ids)
    assert not [k for k, n in counts.items() if n > 1], "records returned twice"
    return set(counts)


def test_server_info_is_cloud(client):
    assert client.deploymentType == "Cloud"


@pytest.mark.parametrize("use_post", [False, True])
def test_enhanced_search_returns_every_issue_once(emu, client, use_post):
    projects = {p.key for p in emu.app.world.jira.projects}
    jql = f"project in ({', '.join(sorted(projects))}) ORDER BY updated ASC, key ASC"
    issues = client.enhanced_search_issues(jql, maxResults=0, fields=FIELDS, expand="changelog", use_post=use_post)
    expected = expected_issues(emu, projects)
    assert once([i.id for i in issues]) == set(expected)
    updated = [_jira_ms(i.fields.updated) for i in issues]
    assert updated == sorted(updated)
    for i in issues:
        issue, st = expected[i.id]
        assert i.key == st.key and i.fields.status.id == st.status_id
        assert i.fields.status.statusCategory.key == st.category
        assert i.fields.project.key == st.project_key and i.fields.issuetype.name and i.fields.summary
        assert (i.fields.resolutiondate is None) == (st.resolution_ms is None)
        assert _jira_ms(i.fields.created) == issue.created_ms and _jira_ms(i.fields.updated) == st.updated_ms
        # Embedded changelog: newest first and truncated; `total` says how many there are.
        cl = i.changelog
        assert cl.total == len(st.histories)
        assert len(cl.histories) == min(cl.total, EMBEDDED_CHANGELOG_MAX["search"])
        assert [h.id for h in cl.histories] == [ev.history_id for ev in reversed(st.histories)][: len(cl.histories)]
        for h in cl.histories:
            assert h.created and h.author.accountId and all(item.field for item in h.items)


def test_search_issues_goes_to_enhanced_search_on_cloud(emu, client):
    emu.app.stats.reset()
    found = client.search_issues("project = WEB ORDER BY created ASC", maxResults=False, fields="summary")
    assert once([i.key for i in found]) == {st.key for _, st in expected_issues(emu, {"WEB"}).values()}
    routes = emu.stats()["jira"]
    assert any("/search/jql" in k for k in routes) and not any(k.endswith("/search") for k in routes)
    assert client.approximate_issue_count("project = WEB") == len(found)


def test_full_changelogs_past_the_embedded_cap(emu, client):
    """The library has no paginated changelog call: `issue(expand=changelog)` (capped at 100) and the documented
    `_get_json('issue/KEY/changelog', startAt/maxResults)` walk, oldest first, until `isLast`."""
    data, now = emu.app.world.jira, emu.app.clock.now_ms
    long = [(i, st) for i, st in data.views(now) if len(st.histories) > EMBEDDED_CHANGELOG_MAX["search"]]
    assert any(len(st.histories) > 100 for _, st in long), "no issue beyond the 100 embedded in an issue"
    for _issue, st in long:
        single = client.issue(st.key, expand="changelog")
        assert single.changelog.total == len(st.histories)
        assert len(single.changelog.histories) == min(len(st.histories), EMBEDDED_CHANGELOG_MAX["issue"])
        values, start = [], 0
        while True:
            page = client._get_json(f"issue/{st.key}/changelog", params={"startAt": start, "maxResults": 100})
            values += page["values"]
            if page["isLast"]:
                break
            start += len(page["values"])
        assert [v["id"] for v in values] == [ev.history_id for ev in st.histories]
        assert once([v["id"] for v in values])


def _jira_ms(text: str) -> int:
    """Jira renders `2026-07-23T12:03:10.687-0700`: an offset without a colon."""
    return parse_iso(text[:-2] + ":" + text[-2:])


def test_project_versions_of_every_project(emu, client):
    """`project_versions` (the non-paged `/project/{key}/versions`) and the documented paged
    `/project/{key}/version` walked with `_get_json` (startAt/maxResults until `isLast`) both return every version the
    emulator holds for each project, once, in the UI's order; the release projects have some."""
    world, now = emu.app.world, emu.app.clock.now_ms
    for project in world.jira.projects:
        expected = [(v.id, v.name, v.released(now), v.release_date.isoformat())
                    for v in project_versions(project.key, world.window.start_ms, now)]
        assert bool(expected) == is_release_project(project.key), project.key
        sdk = client.project_versions(project.key)
        assert [(v.id, v.name, v.released, v.releaseDate) for v in sdk] == expected, project.key
        values, start = [], 0
        while True:
            page = client._get_json(f"project/{project.key}/version", params={"startAt": start, "maxResults": 7})
            values += page["values"]
            if page["isLast"]:
                break
            start += len(page["values"])
        assert [(v["id"], v["name"], v["released"], v["releaseDate"]) for v in values] == expected, project.key
        assert once([v["id"] for v in values]) == {v[0] for v in expected}
