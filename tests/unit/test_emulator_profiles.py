"""The emulator's profiles: `healthy` (the demo) looks like a healthy mid-size organisation, `stress` (the
default, the tests') keeps every edge case, and a profile changes PagerDuty incidents and security alerts only.

Availability here is computed independently of the pipeline: the union of each service's high-urgency
trigger → resolve spans over the 30 days before the demo's report date, against config/demo.yml's SLOs.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from emulator.gen_security import alert_state, build_security
from emulator.generator import build_world
from emulator.server import start_emulator
from emulator.timefmt import DAY, parse_iso

NOW = parse_iso("2026-11-20T06:00:00Z")  # the demo's clock; the report date is 2026-11-19
END = parse_iso("2026-11-20T00:00:00Z")
START = END - 30 * DAY
SLO = {"api-gateway": 99.95, "auth-service": 99.9, "checkout-api": 99.9, "payments-worker": 99.5,
       "web-frontend": 99.5, "legacy-reporting": 99.9}  # config/demo.yml (legacy-reporting: the default)
SLA_DAYS = {"critical": 15, "high": 30, "medium": 90, "low": 180}


def availability(world) -> tuple[dict[str, float], dict[str, int]]:
    spans, created = defaultdict(list), defaultdict(int)
    pd = world.pagerduty
    for n in range(len(pd.skeleton)):
        inc = pd.incidents.get(n)
        if inc.created_ms > NOW:
            continue
        name = pd.service[inc.service_id].name
        created[name] += START <= inc.created_ms < END
        if inc.urgency != "high":
            continue
        began = None
        for ev in inc.events:
            if ev.kind == "trigger" and ev.at_ms <= NOW:
                began = ev.at_ms
            elif ev.kind == "resolve" and began is not None:
                spans[name].append((began, min(ev.at_ms, NOW)))
                began = None
        if began is not None:
            spans[name].append((began, NOW))
    out = {}
    for service in pd.services:
        down, reach = 0, START
        for lo, hi in sorted((max(a, START), min(b, END)) for a, b in spans[service.name] if b > START and a < END):
            lo = max(lo, reach)
            if hi > lo:
                down, reach = down + hi - lo, hi
        out[service.name] = 100 * (1 - down / (30 * DAY))
    return out, dict(created)


def alerts_past_sla(world) -> int:
    p = world.scale.profile
    data = build_security(world.seed, world.window, world.github.repos,
                          world.scale.security_rate_scale * p.security_rate, p.security_open_share,
                          p.security_fix_time)
    return sum(1 for alerts in data.alerts.values() for a in alerts
               if a.severity and (st := alert_state(a, NOW)) is not None and st.state == "open"
               and NOW - a.created_ms > SLA_DAYS[a.severity] * DAY)


@pytest.fixture(scope="module")
def worlds():
    return {name: build_world(42, NOW, "demo", profile=name) for name in ("healthy", "stress")}


def test_healthy_is_a_healthy_mid_size_organisation(worlds):
    avail, incidents = availability(worlds["healthy"])
    org = sum(avail.values()) / len(avail)
    assert 99.5 <= org <= 99.95, org
    missed = {name for name, value in avail.items() if value < SLO[name]}
    assert missed == {"checkout-api"}, avail  # the one service in trouble
    assert incidents["checkout-api"] >= 10, incidents
    others = {name: n for name, n in incidents.items() if name not in ("checkout-api", "legacy-reporting")}
    assert all(1 <= n <= 8 for n in others.values()), others  # a few incidents a month
    assert 3 <= alerts_past_sla(worlds["healthy"]) <= 10  # a handful of security alerts past SLA


def test_stress_keeps_its_extremes(worlds):
    avail, _ = availability(worlds["stress"])
    assert sum(avail.values()) / len(avail) < 99.0
    assert sum(value < SLO[name] for name, value in avail.items()) >= 4
    assert alerts_past_sla(worlds["stress"]) > 40
    scenarios = {s for _, _, s in worlds["stress"].pagerduty.skeleton if s}
    assert {"long_open", "open_triggered", "reopened", "overlap_a", "midnight"} <= scenarios
    assert not any(s for _, _, s in worlds["healthy"].pagerduty.skeleton)


def test_a_profile_changes_incidents_and_alerts_only(worlds):
    healthy, stress = worlds["healthy"], worlds["stress"]
    assert [repr(p) for p in healthy.github.pulls] == [repr(p) for p in stress.github.pulls]
    assert [repr(i) for i in healthy.jira.issues] == [repr(i) for i in stress.jira.issues]
    assert [s.id for s in healthy.pagerduty.services] == [s.id for s in stress.pagerduty.services]
    # The default is the healthy organisation: a test that needs the extremes asks for "stress" by name.
    assert build_world(42, NOW, "demo").pagerduty.skeleton == healthy.pagerduty.skeleton
    with start_emulator() as emu:
        assert emu.app.world.pagerduty.skeleton == healthy.pagerduty.skeleton
    with pytest.raises(ValueError, match="unknown profile 'calm'"):
        build_world(42, NOW, "demo", profile="calm")
