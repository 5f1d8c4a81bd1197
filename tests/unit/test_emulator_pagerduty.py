"""PagerDuty emulation: offset paging, creation-time windows, limits, filters, log entries."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from emulator.server import start_emulator

PD = {"Authorization": "Token token=pd-demo-token"}
NOW = dt.datetime(2026, 11, 20, 6, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def emu():
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as handle:
        yield handle


@pytest.fixture(scope="module")
def session():
    s = requests.Session()
    s.headers.update(PD)
    return s


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def walk(session, url: str, params: dict, limit: int = 100) -> list[dict]:
    """Classic offset walk: offset += len(page) while more."""
    out, offset = [], 0
    while True:
        body = session.get(url, params={**params, "limit": limit, "offset": offset}).json()
        out += body["incidents"] if "incidents" in body else body["log_entries"]
        assert body["limit"] == limit and body["offset"] == offset
        if not body["more"]:
            return out
        offset += limit


def test_default_window_is_last_30_days_on_creation(emu, session):
    body = session.get(emu.pagerduty_url + "/incidents", params={"limit": 100}).json()
    assert body["total"] is None and body["limit"] == 100
    incidents = walk(session, emu.pagerduty_url + "/incidents", {})
    created = [_ts(i["created_at"]) for i in incidents]
    assert created and min(created) >= NOW - dt.timedelta(days=30) and max(created) <= NOW
    everything = walk(session, emu.pagerduty_url + "/incidents", {"date_range": "all"})
    assert len(everything) > len(incidents)
    assert min(_ts(i["created_at"]) for i in everything) < NOW - dt.timedelta(days=100)


def test_offset_walk_returns_each_incident_once_and_total(emu, session):
    params = {"since": "2026-08-01T00:00:00Z", "until": "2026-11-20T06:00:00Z", "time_zone": "UTC"}
    full = walk(session, emu.pagerduty_url + "/incidents", params, limit=100)
    small = walk(session, emu.pagerduty_url + "/incidents", params, limit=7)
    assert [i["id"] for i in small] == [i["id"] for i in full]
    assert len({i["id"] for i in full}) == len(full) > 150
    total = session.get(
        emu.pagerduty_url + "/incidents", params={**params, "total": "true", "limit": 1}
    ).json()
    assert total["total"] == len(full) and total["more"] is True
    numbers = [i["incident_number"] for i in full]
    assert numbers == sorted(numbers)


def test_only_since_means_one_month(emu, session):
    incidents = walk(session, emu.pagerduty_url + "/incidents", {"since": "2026-09-01T00:00:00Z"})
    created = [_ts(i["created_at"]) for i in incidents]
    assert min(created) >= dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    assert max(created) < dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    assert max(created) > dt.datetime(2026, 9, 25, tzinfo=dt.UTC)


def test_window_over_six_months_is_400(emu, session):
    r = session.get(
        emu.pagerduty_url + "/incidents",
        params={"since": "2026-01-01T00:00:00Z", "until": "2026-08-01T00:00:00Z"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == 2005
    ok = session.get(
        emu.pagerduty_url + "/incidents",
        params={"since": "2026-05-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
    )
    assert ok.status_code == 200


def test_offset_cap_is_400_with_code_2002(emu, session):
    r = session.get(emu.pagerduty_url + "/incidents", params={"offset": 9950, "limit": 100})
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "message": "Arguments Caused Error",
            "code": 2002,
            "errors": [
                "Offset+limit exceeds maximum allowed value of 10000. Please try to refine your search "
                "to reduce the returned set of records below this number, like adding a date range."
            ],
        }
    }
    assert (
        session.get(emu.pagerduty_url + "/incidents", params={"offset": 9900, "limit": 100}).status_code
        == 200
    )


def test_limit_above_100_is_rejected(emu, session):
    r = session.get(emu.pagerduty_url + "/incidents", params={"limit": 101})
    assert r.status_code == 400 and r.json()["error"]["code"] == 2001


def test_naive_since_is_read_in_account_time_zone(emu, session):
    # Account zone is Europe/Berlin (UTC+1 in November): naive midnight is 23:00Z the day before.
    naive = walk(
        session,
        emu.pagerduty_url + "/incidents",
        {"since": "2026-11-10T00:00:00", "until": "2026-11-20T00:00:00"},
    )
    explicit = walk(
        session,
        emu.pagerduty_url + "/incidents",
        {"since": "2026-11-09T23:00:00Z", "until": "2026-11-19T23:00:00Z"},
    )
    assert [i["id"] for i in naive] == [i["id"] for i in explicit]
    in_utc = walk(
        session,
        emu.pagerduty_url + "/incidents",
        {"since": "2026-11-10T00:00:00", "until": "2026-11-20T00:00:00", "time_zone": "UTC"},
    )
    zulu = walk(
        session,
        emu.pagerduty_url + "/incidents",
        {"since": "2026-11-10T00:00:00Z", "until": "2026-11-20T00:00:00Z"},
    )
    assert [i["id"] for i in in_utc] == [i["id"] for i in zulu]


def test_time_zone_renders_offsets(emu, session):
    ny = session.get(emu.pagerduty_url + "/incidents", params={"time_zone": "America/New_York"}).json()
    utc = session.get(emu.pagerduty_url + "/incidents").json()
    assert {i["created_at"][-6:] for i in ny["incidents"]} <= {"-04:00", "-05:00"}
    assert all(i["created_at"].endswith("Z") for i in utc["incidents"])
    assert [_ts(i["created_at"]) for i in ny["incidents"]] == [_ts(i["created_at"]) for i in utc["incidents"]]
    assert session.get(emu.pagerduty_url + "/incidents", params={"time_zone": "Mars/Base"}).status_code == 400


def test_filters_and_sort(emu, session):
    base = {"date_range": "all"}
    open_ = walk(
        session, emu.pagerduty_url + "/incidents", {**base, "statuses[]": ["triggered", "acknowledged"]}
    )
    assert open_ and {i["status"] for i in open_} <= {"triggered", "acknowledged"}
    assert all(i["resolved_at"] is None for i in open_)
    low = walk(session, emu.pagerduty_url + "/incidents", {**base, "urgencies[]": "low"})
    assert low and {i["urgency"] for i in low} == {"low"}
    services = session.get(emu.pagerduty_url + "/services", params={"limit": 100}).json()["services"]
    sid = services[0]["id"]
    one = walk(session, emu.pagerduty_url + "/incidents", {**base, "service_ids[]": sid})
    assert {i["service"]["id"] for i in one} <= {sid}
    desc = session.get(emu.pagerduty_url + "/incidents", params={**base, "sort_by": "created_at:desc"}).json()
    created = [i["created_at"] for i in desc["incidents"]]
    assert created == sorted(created, reverse=True)
    assert session.get(emu.pagerduty_url + "/incidents", params={"statuses[]": "open"}).status_code == 400
    assert session.get(emu.pagerduty_url + "/incidents", params={"sort_by": "title"}).status_code == 400


def test_incident_shape_matches_the_openapi_fields(emu, session):
    inc = session.get(emu.pagerduty_url + "/incidents", params={"limit": 1}).json()["incidents"][0]
    for key in (
        "id",
        "type",
        "summary",
        "self",
        "html_url",
        "incident_number",
        "title",
        "created_at",
        "updated_at",
        "status",
        "incident_key",
        "service",
        "assignments",
        "assigned_via",
        "last_status_change_at",
        "resolved_at",
        "first_trigger_log_entry",
        "alert_counts",
        "is_mergeable",
        "incident_type",
        "escalation_policy",
        "teams",
        "pending_actions",
        "acknowledgements",
        "alert_grouping",
        "last_status_change_by",
        "priority",
        "resolve_reason",
        "incidents_responders",
        "responder_requests",
        "urgency",
    ):
        assert key in inc, key
    assert inc["type"] == "incident" and inc["service"]["type"] == "service_reference"
    assert inc["self"].startswith(emu.pagerduty_url + "/incidents/")
    single = session.get(inc["self"]).json()["incident"]
    assert single == inc


def test_services_have_teams_and_one_is_quiet(emu, session):
    body = session.get(emu.pagerduty_url + "/services").json()
    assert body["more"] is False and body["total"] is None
    services = body["services"]
    assert len(services) == 6 and all(
        s["teams"] and s["teams"][0]["type"] == "team_reference" for s in services
    )
    assert len({s["teams"][0]["id"] for s in services}) == 3
    quiet = [s for s in services if s.get("last_incident_timestamp") is None]
    assert len(quiet) == 1
    teams = session.get(emu.pagerduty_url + "/teams").json()["teams"]
    assert len(teams) == 3


def test_log_entries_match_the_incident_timeline(emu, session):
    incidents = walk(
        session, emu.pagerduty_url + "/incidents", {"date_range": "all", "statuses[]": "acknowledged"}
    )
    inc = incidents[0]
    url = f"{emu.pagerduty_url}/incidents/{inc['id']}/log_entries"
    entries = session.get(url, params={"time_zone": "UTC"}).json()["log_entries"]
    kinds = [e["type"] for e in entries]
    assert kinds[-1] == "trigger_log_entry"  # newest first
    acks = [e for e in entries if e["type"] == "acknowledge_log_entry"]
    assert acks and acks[0]["created_at"] == inc["acknowledgements"][-1]["at"]
    overview = session.get(url, params={"is_overview": "true"}).json()["log_entries"]
    assert {e["type"] for e in overview} <= {
        "trigger_log_entry",
        "acknowledge_log_entry",
        "resolve_log_entry",
    }
    assert len(overview) < len(entries)
    # Log entries render in the account time zone unless time_zone is given.
    assert session.get(url).json()["log_entries"][0]["created_at"].endswith("+01:00")


def test_account_log_entries_window_and_paging(emu, session):
    params = {"since": "2026-11-01T00:00:00Z", "until": "2026-11-20T06:00:00Z", "time_zone": "UTC"}
    entries = walk(session, emu.pagerduty_url + "/log_entries", params, limit=50)
    assert len({e["id"] for e in entries}) == len(entries) > 50
    stamps = [e["created_at"] for e in entries]
    assert stamps == sorted(stamps, reverse=True) and stamps[-1] >= "2026-11-01T00:00:00Z"


def test_some_incidents_have_the_security_incident_type(emu, session):
    """Issue 21 §6: a responder can give an incident a custom Incident Type; the demo's security_incidents rule
    `incident_types: [security_incident]` then matches it. Most incidents keep the account default."""
    incidents = walk(session, emu.pagerduty_url + "/incidents", {"date_range": "all"})
    types = [i["incident_type"]["name"] for i in incidents]
    assert set(types) == {"incident_default", "security_incident"}
    assert 0 < types.count("security_incident") < 0.15 * len(types)
