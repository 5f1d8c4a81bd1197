"""GitHub emulation: Link paging over /repositories/{id}, per_page clamp, sorting, ETag/304, rate limits."""

from __future__ import annotations

import re

import pytest
import requests

from emulator.server import start_emulator

GH = {"Authorization": "Bearer gh-demo-token"}


@pytest.fixture(scope="module")
def emu():
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as handle:
        yield handle


@pytest.fixture()
def session():
    s = requests.Session()
    s.headers.update(GH)
    return s


def links(resp: requests.Response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', resp.headers.get("Link", ""))}


def walk(session, url: str, params: dict | None = None) -> tuple[list[dict], list[str]]:
    items, urls = [], []
    resp = session.get(url, params=params)
    while True:
        assert resp.status_code == 200, resp.text
        items += resp.json()
        nxt = links(resp).get("next")
        if not nxt:
            return items, urls
        urls.append(nxt)
        resp = session.get(nxt)


def test_link_walk_over_repositories_id_returns_every_pull_once(emu, session):
    first = session.get(emu.github_url + "/repos/acme/api/pulls", params={"state": "all", "per_page": 100})
    assert "first" not in links(first) and "prev" not in links(first)
    items, urls = walk(session, emu.github_url + "/repos/acme/api/pulls", {"state": "all", "per_page": 100})
    repo_id = session.get(emu.github_url + "/repos/acme/api").json()["id"]
    assert urls and all(u.startswith(f"{emu.github_url}/repositories/{repo_id}/pulls?") for u in urls)
    assert all("per_page=100" in u and "state=all" in u for u in urls)
    numbers = [p["number"] for p in items]
    assert len(numbers) == len(set(numbers)) > 100
    last = links(first)["last"]
    assert last.endswith(f"page={len(urls) + 1}")
    small, _ = walk(session, emu.github_url + "/repos/acme/api/pulls", {"state": "all", "per_page": 7})
    assert [p["number"] for p in small] == numbers


def test_middle_page_has_prev_first_and_last_page_has_no_next(emu, session):
    url = emu.github_url + "/repos/acme/api/pulls"
    mid = session.get(url, params={"state": "all", "per_page": 10, "page": 2})
    assert set(links(mid)) == {"prev", "next", "last", "first"}
    last_url = links(mid)["last"]
    last = session.get(last_url)
    assert set(links(last)) == {"prev", "first"} and last.json()


def test_per_page_is_clamped_to_100(emu, session):
    resp = session.get(emu.github_url + "/repos/acme/api/pulls", params={"state": "all", "per_page": 500})
    assert len(resp.json()) == 100
    assert "per_page=500" in links(resp)["next"]
    assert len(session.get(emu.github_url + "/repos/acme/api/pulls", params={"state": "all"}).json()) == 30


def test_default_state_is_open_and_default_sort_is_created_desc(emu, session):
    items, _ = walk(session, emu.github_url + "/repos/acme/api/pulls")
    assert items and {p["state"] for p in items} == {"open"}
    created = [p["created_at"] for p in items]
    assert created == sorted(created, reverse=True)


def test_sort_updated_desc_and_asc_default(emu, session):
    desc, _ = walk(
        session,
        emu.github_url + "/repos/acme/web/pulls",
        {"state": "all", "sort": "updated", "direction": "desc", "per_page": 100},
    )
    stamps = [p["updated_at"] for p in desc]
    assert stamps == sorted(stamps, reverse=True)
    asc, _ = walk(session, emu.github_url + "/repos/acme/web/pulls", {"state": "all", "sort": "updated"})
    assert [p["updated_at"] for p in asc] == sorted(stamps)


def test_pull_simple_shape_and_states(emu, session):
    items, _ = walk(session, emu.github_url + "/repos/acme/api/pulls", {"state": "all", "per_page": 100})
    sample = items[0]
    for key in (
        "url",
        "id",
        "node_id",
        "html_url",
        "number",
        "state",
        "title",
        "user",
        "labels",
        "created_at",
        "updated_at",
        "closed_at",
        "merged_at",
        "merge_commit_sha",
        "head",
        "base",
        "draft",
        "_links",
        "author_association",
    ):
        assert key in sample, key
    assert "merged" not in sample and "additions" not in sample
    assert sample["url"].startswith(emu.github_url + "/repos/acme/api/pulls/")
    merged = [p for p in items if p["merged_at"]]
    closed_unmerged = [p for p in items if p["state"] == "closed" and not p["merged_at"]]
    assert merged and closed_unmerged and any(p["state"] == "open" for p in items)
    assert all(p["closed_at"] == p["merged_at"] and p["updated_at"] >= p["merged_at"] for p in merged)
    full = session.get(merged[0]["url"]).json()
    assert full["merged"] is True and "additions" in full and full["number"] == merged[0]["number"]


def test_etag_304_does_not_count(emu, session):
    url = emu.github_url + "/repos/acme/mobile/pulls"
    first = session.get(url, params={"state": "all"})
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    remaining = int(first.headers["x-ratelimit-remaining"])
    again = session.get(url, params={"state": "all"}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-remaining"]) == remaining
    assert again.headers["etag"] == etag
    changed = session.get(url, params={"state": "all"}, headers={"If-None-Match": 'W/"other"'})
    assert changed.status_code == 200 and int(changed.headers["x-ratelimit-remaining"]) == remaining - 1


def test_rate_limit_headers_count_down_and_reset_on_the_emulated_hour(emu, session):
    a = session.get(emu.github_url + "/repos/acme/api")
    b = session.get(emu.github_url + "/repos/acme/api")
    assert a.headers["x-ratelimit-limit"] == "5000" and a.headers["x-ratelimit-resource"] == "core"
    assert int(b.headers["x-ratelimit-remaining"]) == int(a.headers["x-ratelimit-remaining"]) - 1
    assert int(b.headers["x-ratelimit-used"]) == int(a.headers["x-ratelimit-used"]) + 1
    assert b.headers["x-ratelimit-reset"] == "1795158000"  # 2026-11-20T07:00:00Z
    core = session.get(emu.github_url + "/rate_limit").json()["resources"]["core"]
    assert core["remaining"] == int(b.headers["x-ratelimit-remaining"])


def test_unknown_repo_is_404_with_github_body(emu, session):
    r = session.get(emu.github_url + "/repos/acme/nope/pulls")
    assert r.status_code == 404
    assert r.json()["message"] == "Not Found" and r.json()["documentation_url"].startswith(
        "https://docs.github.com"
    )
    assert session.get(emu.github_url + "/repositories/1/pulls").status_code == 404


def test_org_repos_and_repo(emu, session):
    repos = session.get(emu.github_url + "/orgs/acme/repos").json()
    assert sorted(r["name"] for r in repos) == ["api", "infra", "mobile", "web"]
    repo = session.get(emu.github_url + "/repos/acme/web").json()
    assert repo["full_name"] == "acme/web" and repo["default_branch"] == "main"
    assert session.get(f"{emu.github_url}/repositories/{repo['id']}").json()["id"] == repo["id"]
    assert requests.get(emu.github_url + "/orgs/acme/repos").json() == []  # anonymous sees no private repos
