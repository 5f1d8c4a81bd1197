"""The Jira emulator's flow data: changelogs that agree with the fields, moves, deletions, a renamed status,
project search, statuses and the burst rate limit."""

from __future__ import annotations

import pytest
import requests

from emulator.gen_jira import STATUSES, build_jira
from emulator.server import start_emulator
from emulator.timefmt import DAY, parse_iso
from emulator.timeline import SCALES, Window, build_people

AUTH = ("demo@example.com", "jira-demo-token")
NOW = parse_iso("2026-11-20T06:00:00Z")


def jira(seed: int):
    spec = SCALES["demo"]
    return build_jira(seed, Window.around(NOW, spec), spec, build_people(seed, spec.people), "America/Los_Angeles")


def categories(state) -> list[str]:
    """Status categories an issue went through, from its changelog."""
    out = ["new"]
    for ev in state.histories:
        out += [STATUSES[c.to_value].category for c in ev.changes if c.field == "status"]
    return out


@pytest.mark.parametrize("seed", [1, 7, 42, 2024])
def test_every_seed_has_the_flow_cases(seed):
    data = jira(seed)
    views = data.views(NOW)
    states = [st for _, st in views]
    flows = [categories(st) for st in states]
    assert any(f.count("done") >= 2 and "indeterminate" in f[f.index("done"):] for f in flows), "reopened"
    assert any(f[-1] == "done" and "indeterminate" not in f for f in flows), "closed without being started"
    assert any(f == ["new"] for f in flows), "never started"
    assert any(len(st.histories) > 200 for st in states), "hundreds of changelog entries"
    assert any(st.key != issue.key for issue, st in views), "moved to another project"
    assert any(not i.exists(NOW) and i.created_ms <= NOW for i in data.issues), "deleted"
    assert any(not i.exists(NOW + DAY) and i.exists(NOW) for i in data.issues), "deleted after the next advance"
    names = {c.to_string for st in states for ev in st.histories for c in ev.changes
             if c.field == "status" and c.to_value == "10001"}
    assert names == {"In Review", "Code Review"}, "a status renamed part-way: both names in the changelog"
    for _, st in views:  # fields and changelog agree
        assert st.category == categories(st)[-1]
        assert (st.resolution_ms is not None) == (st.category == "done")
        assert len({ev.history_id for ev in st.histories}) == len(st.histories)


def test_the_api_shows_moves_deletions_renames_projects_and_statuses():
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as emu:
        s = requests.Session()
        s.auth = AUTH
        api = emu.jira_url + "/rest/api/3"
        data = emu.app.world.jira
        moved = next(i for i in data.issues if i.scenario == "moved")
        old_key, new_key = moved.keys
        found = s.post(f"{api}/search/jql", json={"jql": f"key = {old_key}", "fields": ["project"]}).json()
        assert [(i["id"], i["key"], i["fields"]["project"]["key"]) for i in found["issues"]] == [
            (moved.id, new_key, new_key.split("-")[0])]
        assert s.get(f"{api}/issue/{old_key}").json()["key"] == new_key
        entries = s.get(f"{api}/issue/{moved.id}/changelog").json()["values"]
        key_items = [i for e in entries for i in e["items"] if i["field"] == "Key"]
        assert [(i["fromString"], i["toString"]) for i in key_items] == [(old_key, new_key)]

        deleted = next(i for i in data.issues if i.scenario == "deleted")
        assert s.get(f"{api}/issue/{deleted.id}").status_code == 200
        emu.advance(days=1)
        assert s.get(f"{api}/issue/{deleted.id}").status_code == 404
        assert s.get(f"{api}/issue/{deleted.id}/changelog").status_code == 404
        ids = s.post(f"{api}/search/jql", json={"jql": "project in (OPS, WEB)", "fields": ["id"],
                                                "maxResults": 5000}).json()
        assert ids["isLast"] and deleted.id not in {i["id"] for i in ids["issues"]}

        statuses = s.get(f"{api}/status").json()
        assert {x["id"]: x["name"] for x in statuses}["10001"] == "Code Review"
        assert {x["statusCategory"]["key"] for x in statuses} == {"new", "indeterminate", "done"}

        page = s.get(f"{api}/project/search", params={"maxResults": 1}).json()
        assert (page["total"], page["isLast"], page["startAt"], len(page["values"])) == (2, False, 0, 1)
        rest = requests.get(page["nextPage"], auth=AUTH).json()
        assert rest["isLast"] and "nextPage" not in rest
        assert {page["values"][0]["key"], rest["values"][0]["key"]} == {"OPS", "WEB"}
        only = s.get(f"{api}/project/search", params={"keys": "WEB"}).json()
        assert [p["key"] for p in only["values"]] == ["WEB"]


def test_burst_limit_answers_429_with_retry_after():
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as emu:
        s = requests.Session()
        s.auth = AUTH
        url = emu.jira_url + "/rest/api/3/myself"
        assert [s.get(url).status_code for _ in range(3)] == [200] * 3, "off by default"
        emu.app.apis["jira"].set_burst(2, retry_after_s=5)
        answers = [s.get(url) for _ in range(6)]
        assert [r.status_code for r in answers] == [200, 200, 429, 200, 200, 429]
        refused = answers[2]
        assert refused.headers["Retry-After"] == "5" and refused.headers["RateLimit-Reason"] == "jira-burst-based"
        assert refused.json() == {"errorMessages": ["Rate limit exceeded."], "errors": {}}
        assert requests.get(url, auth=("demo@example.com", "wrong")).status_code == 401, "auth is checked first"
        emu.app.apis["jira"].set_burst(0)
        assert all(s.get(url).status_code == 200 for _ in range(5))
