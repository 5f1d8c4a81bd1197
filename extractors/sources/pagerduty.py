"""PagerDuty REST v2: services, teams, incidents, their log entries and their alerts.

`/incidents` has no updated-since filter and windows on creation time, so each run re-reads a
creation window (watermark minus a lookback) and, separately, every incident still open whenever it
was created. Log entries are append-only: they are read from their own watermark minus a short margin
(`LOG_ENTRIES_LOOKBACK`), not the incidents' lookback. Windows are cut below the API's 6-month limit and
halved whenever a query would pass the 10,000 offset cap. Only a 429 is a rate limit (PagerDuty sends its
`ratelimit-*` headers on every answer: extractors/http.py), and `/teams` is optional (402 without the feature).

Alerts (`GET /incidents/{id}/alerts`, the time-to-detect KPI's monitor event times) have no account-wide list:
they are a child of incidents, read for each incident the run lists, except one whose `alert_counts.all` is 0
(opened by hand: nothing to read) and one already read since it was resolved with the same alert count
(meta.child_versions: a resolved incident's alerts no longer change). An open incident's alerts are read again on
every run: new alerts are grouped into it while it is open, and an incident merged into it brings its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from extractors.http import HttpClient
from extractors.pagination import OffsetPaginator, PageRequest, PaginationError
from extractors.sources import Source
from extractors.streams import Column, Partition, Stream, Window, parse_timestamp

MAX_WINDOW = timedelta(days=179)  # the API refuses since/until ranges over 6 months
MIN_SPLIT = timedelta(minutes=1)
# Log entries are append-only: a run re-reads only this margin before the newest entry loaded (for entries that
# become visible a little after their `created_at`), not the incidents' creation window.
LOG_ENTRIES_LOOKBACK = timedelta(hours=1)
OPEN_STATUSES = ("triggered", "acknowledged")


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def creation_windows(start: datetime, end: datetime, step: timedelta = MAX_WINDOW):
    cursor = start
    while cursor < end:
        upper = min(cursor + step, end)
        yield cursor, upper
        cursor = upper


def split_incident_request(request: PageRequest) -> list[PageRequest]:
    """Halve a creation window that holds more records than the offset cap lets us page through."""
    since, until = request.param("since"), request.param("until")
    if since is None or until is None:
        raise PaginationError(
            "the open-incident query passes PagerDuty's 10,000 offset cap and cannot be split by time"
        )
    lo, hi = parse_timestamp(since), parse_timestamp(until)
    if hi - lo <= MIN_SPLIT:
        raise PaginationError(f"more than 10,000 incidents created between {since} and {until}")
    mid = lo + (hi - lo) / 2
    return [request.with_params(since=iso_z(lo), until=iso_z(mid)),
            request.with_params(since=iso_z(mid), until=iso_z(hi))]


def alert_parent_ref(incident: dict[str, Any]) -> dict[str, str] | None:
    """Which incident's alerts to read (None: skip it, `alert_counts.all` is 0), versioned by that count.

    What detection needs of an alert never changes once it is received (its creation time, its monitor's event
    time, whether it was suppressed); what changes an incident's alerts is an alert grouped into it or moved by a
    merge, and either changes `alert_counts.all`. So an incident is read when first listed with alerts and again
    only when its count moved: the contract's budget is a re-read on every run while the incident is open
    (kpi-definitions-wave2.md, "Known limits and decisions"), and this spends it only where the answer can
    differ. An incident without `alert_counts` (an older payload) has no version: it is read on every run, never
    skipped on a guess.
    The cost: an alert's `status` is as of its last read (no mart reads it)."""
    counts = incident.get("alert_counts")
    total = counts.get("all") if isinstance(counts, dict) else None
    if total == 0 and not isinstance(total, bool):
        return None
    ref = {"incident_id": str(incident["id"]), "incident_version": ""}
    if isinstance(total, int) and not isinstance(total, bool):
        ref["incident_version"] = f"alerts {total}"
    return ref


def build(settings: Mapping[str, Any]) -> Source:
    limit = int(settings.get("page_size", 100))

    def client() -> HttpClient:
        return HttpClient(
            settings["base_url"],
            headers={
                "Authorization": f"Token token={settings['token']}",
                "Accept": "application/vnd.pagerduty+json;version=2",
            },
            secrets=[settings["token"]],
            **HttpClient.options(settings),
        )

    def service_requests(partition: Partition, window: Window):
        yield PageRequest("GET", "/services", params=(("time_zone", "UTC"), ("sort_by", "name")))

    def incident_requests(partition: Partition, window: Window):
        base = (("time_zone", "UTC"), ("sort_by", "created_at:asc"), ("total", "true"))
        if window.start is not None:
            for since, until in creation_windows(window.start, window.end):
                yield PageRequest("GET", "/incidents", params=base + (("since", iso_z(since)), ("until", iso_z(until))))
        # Incidents still open change without being re-created: read them all, whatever their age.
        yield PageRequest(
            "GET", "/incidents",
            params=base + (("date_range", "all"),) + tuple(("statuses[]", s) for s in OPEN_STATUSES),
        )

    def log_entry_requests(partition: Partition, window: Window):
        # Entries are append-only: a creation window from the watermark is complete. `is_overview`
        # keeps the state changes (trigger, acknowledge, resolve…) and drops notification noise.
        start = window.start or window.end - MAX_WINDOW
        base = (("time_zone", "UTC"), ("is_overview", "true"), ("total", "true"))
        for since, until in creation_windows(start, window.end):
            yield PageRequest("GET", "/log_entries", params=base + (("since", iso_z(since)), ("until", iso_z(until))))

    def team_requests(partition: Partition, window: Window):
        yield PageRequest("GET", "/teams")

    def alert_requests(partition: Partition, window: Window):
        incident = quote(partition.values["incident_id"], safe="")
        yield PageRequest("GET", f"/incidents/{incident}/alerts", params=(("time_zone", "UTC"), ("total", "true")))

    teams = Stream(
        source="pagerduty",
        name="teams",
        columns=(Column("id"), Column("name")),
        primary_key=("id",),
        records_key="teams",
        paginator=lambda: OffsetPaginator(limit=limit, records_key="teams"),
        requests=team_requests,
        # Accounts without the Teams feature answer 402 Payment Required: the run goes on without teams (the
        # manifest and meta.stream_coverage record `not_enabled`), and services not mapped to a team in the
        # configuration report under "unassigned", as they always do.
        optional=True,
    )
    log_entries = Stream(
        source="pagerduty",
        name="log_entries",
        columns=(
            Column("id"),
            Column("type"),
            Column("incident_id", "incident.id"),
            Column("created_at", kind="timestamp"),
        ),
        primary_key=("id",),
        cursor="created_at",
        records_key="log_entries",
        paginator=lambda: OffsetPaginator(limit=limit, records_key="log_entries"),
        requests=log_entry_requests,
        # An acknowledgement or resolution of an old incident is a new entry (created now), so reading from
        # the watermark finds it; the incidents' 30-day creation lookback would re-read a month of entries.
        lookback=LOG_ENTRIES_LOOKBACK,
        split=split_incident_request,
        timestamps=("created_at",),
    )
    services = Stream(
        source="pagerduty",
        name="services",
        columns=(Column("id"), Column("name")),
        primary_key=("id",),
        records_key="services",
        paginator=lambda: OffsetPaginator(limit=limit, records_key="services"),
        requests=service_requests,
    )
    incidents = Stream(
        source="pagerduty",
        name="incidents",
        columns=(
            Column("id"),
            Column("status"),
            Column("urgency"),
            Column("service_id", "service.id"),
            Column("created_at", kind="timestamp"),
            Column("updated_at", kind="timestamp"),
            Column("resolved_at", kind="timestamp"),
        ),
        primary_key=("id",),
        cursor="created_at",
        records_key="incidents",
        paginator=lambda: OffsetPaginator(limit=limit, records_key="incidents"),
        requests=incident_requests,
        split=split_incident_request,
        timestamps=("created_at", "updated_at", "resolved_at"),
        ordered=(("created_at", "resolved_at"),),
    )
    alerts = Stream(
        source="pagerduty",
        name="incident_alerts",
        columns=(
            Column("id"),
            # the incident whose alerts were asked for (the parent), as every child stream names its parent
            Column("incident_id", partition_key="incident_id"),
            Column("status"),
            Column("created_at", kind="timestamp"),
        ),
        # Per incident: an alert moved by a merge keeps its row under the incident it was first read from, so a
        # replay of a day before the merge still knows whose it was (fct_incident_detection).
        primary_key=("incident_id", "id"),
        records_key="alerts",
        paginator=lambda: OffsetPaginator(limit=limit, records_key="alerts"),
        requests=alert_requests,
        timestamps=("created_at",),
        parent="incidents",
        parent_ref=alert_parent_ref,
        parent_version="incident_version",
    )
    return Source("pagerduty", client, (services, teams, incidents, log_entries, alerts))
