"""The emulator writes Jira keys into pull requests the way teams do (issue 22), serves them where the extractor reads
them (GraphQL `headRefName`, commit `message`), gives a release-based project fix versions in Jira's shape, and
leaves every other record as it was."""

from __future__ import annotations

import dataclasses
import re

import requests

from emulator.gen_github import build_github, first_commit_message, pull_commits
from emulator.gen_jira import DONE, WONT_DO, issue_state
from emulator.gen_jira_versions import is_release_project
from emulator.gen_links import LINKED_KINDS, pull_kind
from emulator.generator import build_world
from emulator.server import start_emulator
from emulator.timefmt import parse_iso
from extractors.sources.github_graphql import PULLS_QUERY

NOW = "2026-11-20T06:00:00Z"
KEY = re.compile(r"(^|[^A-Za-z0-9])([A-Z][A-Z0-9_]+-[0-9]+)")  # the KPI contract's pattern


def keys(text: str) -> list[str]:
    return [m.group(2) for m in KEY.finditer(text)]


def world():
    return build_world(42, parse_iso(NOW), profile="stress")


def test_pull_requests_name_issues_in_every_way_teams_write_them():
    """Against the same world without keys: the key at the start of the title, in brackets (one or two), only in the
    lower-case branch name, only in the first commit, or nowhere."""
    w = world()
    plain = {p.n: p for p in build_github(w.seed, w.window, w.scale, w.people).pulls}
    styles = {"title": 0, "brackets": 0, "two": 0, "branch": 0, "commit": 0, "none": 0}
    for p in w.github.pulls:
        before = plain[p.n]
        if pull_kind(before) not in ("feature", "fix", "docs"):
            assert (p.title, p.head_ref, p.commit_key) == (before.title, before.head_ref, None) or \
                p.title.startswith("Revert"), "bumps and hotfixes name no issue"
            continue
        if p.title != before.title:
            prefix = p.title[: -len(before.title) - 1]
            style = "two" if prefix.count("][") == 1 else "brackets" if prefix.startswith("[") else "title"
            assert keys(prefix) and p.title.endswith(" " + before.title)
        elif p.head_ref != before.head_ref:
            style = "branch"
            assert p.head_ref == p.head_ref.lower(), "branch names are lower case"
            login, _, rest = before.head_ref.rpartition("/")
            assert p.head_ref.startswith(login + "/") and p.head_ref.endswith("-" + rest)
        elif p.commit_key:
            style = "commit"
            assert first_commit_message(p) == f"{p.commit_key}: {p.title}"
        else:
            style = "none"
        styles[style] += 1
    assert all(n > 0 for n in styles.values()), styles
    assert styles["none"] < sum(styles.values()) / 2


def test_named_keys_are_keys_the_issue_had_when_the_pull_request_was_opened():
    """Keys of Jira projects only: a default branch `fix-2122` reads as FIX-2122, which names no project (the
    links keep only keys of configured projects or former keys of stored issues)."""
    w = world()
    projects = {p.key for p in w.jira.projects}
    former = 0
    for p in w.github.pulls:
        if p.title.startswith("Revert"):  # repeats its target's title: the key the target wrote
            continue
        named = keys(p.title) + keys(p.head_ref.upper()) + ([p.commit_key] if p.commit_key else [])
        for key in (k for k in named if k.rsplit("-", 1)[0] in projects):
            matches = [sk for sk in w.jira.skeleton if sk.key == key or (sk.move and sk.move[3] == key)]
            assert matches, f"{key} of #{p.number} is no issue's key"
            assert any(sk.key_at(p.created_ms) == key and sk.created_ms <= p.created_ms for sk in matches)
            issue = w.jira.issues.get(w.jira.n_by_key[key])
            assert issue_state(issue, p.created_ms).category != "done", "work is linked while it is being done"
            former += any(sk.move and sk.key == key and sk.move[0] <= w.window.end_ms for sk in matches)
    assert former > 0, "some pull requests name the former key of an issue that moved since"


def test_every_other_record_is_unchanged():
    """The same world without keys: pull requests differ only in title, head ref and commit key (reverts repeat their
    target's new title), and the derived records only where they repeat those."""
    w = world()
    plain = build_github(w.seed, w.window, w.scale, w.people)
    assert len(plain.pulls) == len(w.github.pulls)
    changed = 0
    for a, b in zip(plain.pulls, w.github.pulls, strict=True):
        if a != b:
            changed += 1
            assert dataclasses.replace(b, title=a.title, head_ref=a.head_ref, commit_key=None) == a
    assert 0 < changed < len(plain.pulls)
    assert plain.deployments == w.github.deployments
    assert plain.releases == w.github.releases
    for a, b in zip(plain.pulls[:200], w.github.pulls[:200], strict=True):
        ca, cb = pull_commits(w.seed, a), pull_commits(w.seed, b)
        assert [dataclasses.replace(c, message="") for c in ca] == [dataclasses.replace(c, message="") for c in cb]
        assert [c.message for c in ca[1:]] == [c.message for c in cb[1:]]
    assert w.jira.created == sorted(w.jira.created), "JiraKeys bisects the skeleton by creation"


def test_graphql_serves_the_head_ref_and_commit_messages_the_links_read():
    with start_emulator(seed=42, now=NOW, profile="stress") as emu:
        world_ = emu.app.world
        repo = world_.github.repos[0]
        headers = {"Authorization": f"bearer {emu.credentials.github_token}"}
        body = requests.post(emu.github_url + "/graphql", headers=headers, timeout=30, json={
            "query": PULLS_QUERY, "variables": {"owner": "acme", "name": repo.name, "pageSize": 50}}).json()
        nodes = body["data"]["repository"]["pullRequests"]["nodes"]
        by_number = {p.number: p for p in world_.github.pulls if p.repo_index == repo.index}
        for node in nodes:
            pull = by_number[node["number"]]
            assert node["head_ref"] == pull.head_ref
            commits = node["commits"]["nodes"]
            if commits:
                assert commits[0]["commit"]["message"] == first_commit_message(pull)


def test_a_release_based_project_serves_fix_versions_like_jira_cloud():
    with start_emulator(seed=42, now=NOW, profile="stress") as emu:
        s = requests.Session()
        s.auth = ("demo@example.com", "jira-demo-token")
        api = emu.jira_url + "/rest/api/3"
        found = s.post(f"{api}/search/jql", json={"jql": "project in (OPS, WEB)", "maxResults": 100,
                                                  "fields": ["status", "resolution", "fixVersions", "project"]}).json()
        issues = found["issues"]
        while not found.get("isLast", True):
            found = s.post(f"{api}/search/jql", json={"jql": "project in (OPS, WEB)", "maxResults": 100,
                                                      "nextPageToken": found["nextPageToken"],
                                                      "fields": ["status", "resolution", "fixVersions",
                                                                 "project"]}).json()
            issues += found["issues"]
        versions = {}
        for issue in issues:
            fields = issue["fields"]
            release = is_release_project(fields["project"]["key"]) and fields["status"]["id"] == DONE
            assert bool(fields["fixVersions"]) == release, issue["key"]
            if fields["status"]["id"] == WONT_DO:
                assert fields["resolution"]["name"] == "Won't Do"
            for v in fields["fixVersions"]:
                assert set(v) == {"self", "id", "description", "name", "archived", "released", "releaseDate"}
                assert v["self"].endswith(f"/rest/api/3/version/{v['id']}")
                versions[v["id"]] = (v["releaseDate"], v["released"])
        assert any(released for _, released in versions.values()), "released versions"
        # a version is released from noon UTC of its release day on
        for release_date, released in versions.values():
            assert released == (parse_iso(release_date + "T12:00:00Z") <= parse_iso(NOW))
        assert any(i["fields"]["status"]["id"] == WONT_DO for i in issues), "issues resolved Won't Do"
        # two weeks later the train of the newest version has left
        emu.advance(days=14)
        newest = max(versions, key=lambda v: versions[v][0])
        again = s.post(f"{api}/search/jql", json={"jql": "project = WEB", "maxResults": 100,
                                                  "fields": ["fixVersions"]}).json()["issues"]
        assert any(v["id"] == newest and v["released"] for i in again for v in i["fields"]["fixVersions"])


def test_bulk_scales_name_issues_too_and_the_draw_depends_on_the_seed_alone():
    """Bulk scales (lazy shards, explicit `counts`) write keys as well, so the benchmark's end-to-end models link work
    at volume. Their draw reads the Jira skeleton only: a shard built with an empty issue cache and one built after
    every issue was built are identical, and every key named existed, under that key, when the pull request opened."""
    counts = {"repos": 2, "pulls": 400, "issues": 800, "history_days": 60}
    cold = build_world(7, parse_iso(NOW), counts=counts)
    warm = build_world(7, parse_iso(NOW), counts=counts)
    assert cold.scale.lazy and cold.jira.lazy
    for n in range(len(warm.jira.skeleton)):
        warm.jira.issues.get(n)
    projects = {p.key for p in cold.jira.projects}
    named = 0
    for index in range(len(cold.github.repos)):
        pulls = cold.github._pulls(index).pulls
        assert pulls == warm.github._pulls(index).pulls
        for p in pulls:
            if pull_kind(p) not in LINKED_KINDS:  # a revert repeats its target's title, keys and all
                continue
            for key in [k for k in keys(p.title) + keys(p.head_ref.upper()) if k.split("-")[0] in projects]:
                n = cold.jira.n_by_key[key]
                assert cold.jira.skeleton[n].exists(p.created_ms) and cold.jira.skeleton[n].key_at(p.created_ms) == key
                named += 1
    linkable = sum(pull_kind(p) in LINKED_KINDS
                   for index in range(len(cold.github.repos)) for p in cold.github._pulls(index).pulls)
    assert named > 0.4 * linkable, (named, linkable)
