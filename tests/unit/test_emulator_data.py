"""Generated data realism and time travel: what the marts are tested against must exist for every seed."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
import requests

from emulator.gen_github import pull_state
from emulator.gen_jira import STATUSES, issue_state
from emulator.gen_pagerduty import incident_state
from emulator.generator import build_world
from emulator.server import start_emulator
from emulator.timefmt import DAY, HOUR, MINUTE, parse_iso

PD = {"Authorization": "Token token=pd-demo-token"}
GH = {"Authorization": "token gh-demo-token"}
JIRA = ("demo@example.com", "jira-demo-token")
NOW = parse_iso("2026-11-20T06:00:00Z")


def _ts(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _all_incidents(session: requests.Session, base: str) -> list[dict]:
    out, offset = [], 0
    while True:
        body = session.get(
            f"{base}/incidents", params={"date_range": "all", "limit": 100, "offset": offset}
        ).json()
        out += body["incidents"]
        if not body["more"]:
            return out
        offset += 100


@pytest.fixture(scope="module")
def emu():
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as handle:
        yield handle


def test_incident_realism_through_the_api(emu):
    s = requests.Session()
    s.headers.update(PD)
    incidents = _all_incidents(s, emu.pagerduty_url)
    now = dt.datetime(2026, 11, 20, 6, tzinfo=dt.UTC)
    assert 200 <= len(incidents) <= 320
    assert {i["urgency"] for i in incidents} == {"high", "low"}
    assert any(i["priority"] is None for i in incidents) and any(i["priority"] for i in incidents)
    assert any("<b>" in i["title"] and "&" in i["title"] for i in incidents)
    assert any(any(ord(c) > 127 for c in i["title"]) for i in incidents)
    open_ = [i for i in incidents if i["status"] != "resolved"]
    assert {i["status"] for i in open_} == {"triggered", "acknowledged"}
    assert all(i["resolved_at"] is None and i["assignments"] for i in open_)
    resolved = [i for i in incidents if i["status"] == "resolved"]
    assert all(i["resolved_at"] == i["last_status_change_at"] and not i["assignments"] for i in resolved)
    durations = [_ts(i["resolved_at"]) - _ts(i["created_at"]) for i in resolved]
    assert min(durations) < dt.timedelta(minutes=30) and max(durations) > dt.timedelta(hours=12)
    assert any(_ts(i["created_at"]).date() != (_ts(i["resolved_at"]) or now).date() for i in incidents)
    by_service = defaultdict(list)
    for i in incidents:
        by_service[i["service"]["id"]].append((_ts(i["created_at"]), _ts(i["resolved_at"]) or now))
    overlaps = sum(
        1 for spans in by_service.values() for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]
    )
    assert overlaps >= 1
    services = s.get(f"{emu.pagerduty_url}/services").json()["services"]
    assert len([x for x in services if x["id"] not in by_service]) == 1

    reopened = []
    for inc in incidents:
        entries = s.get(
            f"{emu.pagerduty_url}/incidents/{inc['id']}/log_entries",
            params={"is_overview": "true", "time_zone": "UTC", "limit": 100},
        ).json()["log_entries"]
        triggers = [e for e in entries if e["type"] == "trigger_log_entry"]
        resolves = [e for e in entries if e["type"] == "resolve_log_entry"]
        if len(triggers) > 1 and resolves:
            reopened.append(inc)
            if inc["status"] == "resolved":
                assert inc["resolved_at"] == max(e["created_at"] for e in resolves)
    assert reopened


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_every_seed_has_the_required_cases(seed):
    world = build_world(seed, NOW, profile="stress")
    views = world.pagerduty.views(NOW)
    states = [st for _, st in views]
    assert any(st.status != "resolved" for st in states)
    assert any(sum(ev.kind == "trigger" for ev in st.events) > 1 for st in states)
    assert any(inc.urgency == "low" for inc, _ in views) and any(inc.priority_id is None for inc, _ in views)
    assert any("<b>" in inc.title for inc, _ in views)
    spans = defaultdict(list)
    for inc, st in views:
        spans[inc.service_id].append((inc.created_ms, st.resolved_ms or NOW))
    assert any(b[0] < a[1] for v in spans.values() for a, b in zip(v, v[1:], strict=False))
    assert any(start // DAY != end // DAY for v in spans.values() for start, end in v)
    assert len(world.pagerduty.services) - len(spans) == 1
    # Something happens soon after the start clock in every source.
    assert any(NOW < inc.created_ms <= NOW + DAY for inc in world.pagerduty.incidents)
    assert any(
        st.status != "resolved" and (incident_state(inc, NOW + DAY).status == "resolved") for inc, st in views
    )
    pulls = [(p, pull_state(p, NOW)) for p in world.github.pulls if p.created_ms <= NOW]
    assert any(st.state == "open" and pull_state(p, NOW + DAY).merged for p, st in pulls)
    assert any(p.title.startswith('Revert "') for p, _ in pulls) and any(
        "hotfix" in p.labels for p, _ in pulls
    )
    assert any(st.state == "closed" and not st.merged for _, st in pulls)
    issues = [(i, issue_state(i, NOW)) for i in world.jira.issues if i.created_ms <= NOW]
    assert {STATUSES[st.status_id].category for _, st in issues} == {"new", "indeterminate", "done"}
    assert any(st.category != "done" and issue_state(i, NOW + DAY).category == "done" for i, st in issues)


def test_generation_is_fast_and_deterministic():
    a, b = build_world(5, NOW, profile="stress"), build_world(5, NOW, profile="stress")
    assert [i.id for i in a.pagerduty.incidents] == [i.id for i in b.pagerduty.incidents]
    assert a.jira.issues == b.jira.issues and a.github.pulls == b.github.pulls
    assert a.pagerduty.incidents == b.pagerduty.incidents


def test_advance_reveals_new_records_and_updates_old_ones():
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as h:
        s = requests.Session()
        s.headers.update(PD)
        before = {i["id"]: i for i in _all_incidents(s, h.pagerduty_url)}
        open_before = [i for i in before.values() if i["status"] != "resolved"]
        gh = requests.Session()
        gh.headers.update(GH)
        pulls_before = {
            p["number"]: p
            for p in gh.get(
                f"{h.github_url}/repos/acme/api/pulls", params={"state": "all", "per_page": 100}
            ).json()
        }
        jira_before = requests.get(
            f"{h.jira_url}/rest/api/3/search/jql",
            auth=JIRA,
            params={"jql": "project = OPS AND statusCategory != done", "fields": "status", "maxResults": 100},
        ).json()["issues"]

        assert requests.post(f"{h.base_url}/__emulator/advance", json={"days": 1}).json()["now"] == (
            "2026-11-21T06:00:00Z"
        )

        after = {i["id"]: i for i in _all_incidents(s, h.pagerduty_url)}
        assert set(before) < set(after)
        new = [after[k] for k in set(after) - set(before)]
        assert all(_ts(i["created_at"]) > dt.datetime(2026, 11, 20, 6, tzinfo=dt.UTC) for i in new)
        resolved_now = [after[i["id"]] for i in open_before if after[i["id"]]["status"] == "resolved"]
        assert resolved_now
        for inc in resolved_now:
            assert _ts(inc["resolved_at"]) > dt.datetime(2026, 11, 20, 6, tzinfo=dt.UTC)
            assert inc["updated_at"] == inc["last_status_change_at"] == inc["resolved_at"]
            assert inc["acknowledgements"] == [] and inc["assignments"] == []

        pulls_after = {
            p["number"]: p
            for p in gh.get(
                f"{h.github_url}/repos/acme/api/pulls", params={"state": "all", "per_page": 100}
            ).json()
        }
        merged = [
            n
            for n, p in pulls_before.items()
            if p["state"] == "open" and n in pulls_after and pulls_after[n]["merged_at"]
        ]
        assert merged
        assert all(pulls_after[n]["updated_at"] > pulls_before[n]["updated_at"] for n in merged)

        ids = ",".join(i["id"] for i in jira_before)
        done = requests.get(
            f"{h.jira_url}/rest/api/3/search/jql",
            auth=JIRA,
            params={"jql": f"id in ({ids}) AND statusCategory = done", "fields": "resolutiondate,status"},
        ).json()["issues"]
        assert done and all(i["fields"]["resolutiondate"] for i in done)


def test_incident_timeline_is_consistent_for_every_incident():
    world = build_world(11, NOW, profile="stress")
    for inc in world.pagerduty.incidents:
        assert inc.events[0].kind == "trigger" and inc.events[0].at_ms == inc.created_ms
        assert [e.at_ms for e in inc.events] == sorted(e.at_ms for e in inc.events)
        final = incident_state(inc, NOW + 400 * DAY)
        assert final is not None
        if final.status == "resolved":
            assert final.resolved_ms - inc.created_ms >= MINUTE
        assert final.resolved_ms is None or final.resolved_ms - inc.created_ms < 30 * DAY + HOUR


def test_warm_builds_every_repositorys_shards_once_and_keeps_them():
    """`POST /__emulator/warm` (what the benchmark calls before its timed stages): afterwards no request builds a
    shard, even with more repositories than the caches held before; a larger world is left lazy."""
    world = build_world(5, NOW, scale="medium", counts={"repos": 12, "pulls": 600, "history_days": 60})
    github = world.github
    built = []
    build_dora = github._dora_shards._build
    github._dora_shards._build = lambda index: built.append(index) or build_dora(index)
    assert github.warm() == {"repositories": 12}
    assert sorted(built) == list(range(12))
    for repo in github.repos:  # what the handlers read, every repository in turn: nothing is built again
        assert github.deployments_by_repo[repo.index] is not None and github.pulls_by_repo[repo.index] is not None
    assert sorted(built) == list(range(12))
    assert github.warm(most_repos=11) == {}, "too many repositories: left lazy"


def test_the_warm_endpoint_answers_on_every_scale():
    with start_emulator(seed=5) as emu:  # the demo scale is built whole at start: nothing to warm
        answer = requests.post(f"{emu.base_url}/__emulator/warm", json={}, timeout=30)
        assert answer.status_code == 200 and answer.json()["built"] == {}
