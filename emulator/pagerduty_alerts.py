"""PagerDuty `GET /incidents/{id}/alerts`: an incident's alerts, paged like every PagerDuty list.

As strict as the other lists (emulator/pagerduty.py does the paging, the auth, the rate limit and the error
envelope): `limit` at most 100, the 10,000 offset cap (error 2002), `statuses[]` of triggered / resolved,
`alert_key`, `sort_by` of created_at / resolved_at (at most two, `:asc` / `:desc`), `include[]` of services /
first_trigger_log_entries / incidents; anything else is error 2001; an unknown incident is a 404. Alerts exist
from their receipt (`created_at`) on; an incident merged into another has none left, its target holds them all
(with `incident` pointing at the target). Rendered in UTC unless `time_zone` is given.
"""

from __future__ import annotations

from typing import Any

from emulator.gen_pagerduty import PdIncident, incident_state
from emulator.gen_pagerduty_alerts import PdAlert
from emulator.ids import pd_id
from emulator.routing import Request, Response
from emulator.timefmt import TimeFormatError, iso_in_zone, zone

_STATUSES = ("triggered", "resolved")
_SORTS = ("created_at", "resolved_at")
_INCLUDES = ("services", "first_trigger_log_entries", "incidents")
_INTEGRATIONS = {
    "email": ("generic_email_inbound_integration_reference", "Email"),
}
_EVENTS_V2 = ("events_api_v2_inbound_integration_reference", "Events API V2")


def _naive(ms: int) -> str:
    """A local wall-clock time without an offset, as a misconfigured monitor sends it."""
    return iso_in_zone(ms, zone("UTC"))[:19].replace("T", " ")


def alert_status(api: Any, holder: PdIncident, now_ms: int) -> tuple[str, int | None]:
    """An alert resolves with the incident holding it: (status, resolved at or None)."""
    st = incident_state(holder, now_ms)
    resolved = st is not None and st.status == "resolved"
    return ("resolved", st.resolved_ms) if resolved else ("triggered", None)


def render_alert(api: Any, req: Request, alert: PdAlert, origin: PdIncident, holder: PdIncident, tz: Any,
                 include: set[str]) -> dict[str, Any]:
    """The Alert object of the OpenAPI document plus the `body.cef_details` real answers carry."""
    status, _ = alert_status(api, holder, req.now_ms)
    itype, iname = _INTEGRATIONS.get(alert.kind, _EVENTS_V2)
    integration = pd_id("P", 7, origin.service_id, "integration", "email" if alert.kind == "email" else "v2")
    details = {"service": api.data.service[origin.service_id].name, "summary": origin.title}
    cef = None
    if alert.kind != "email":
        stamp = None
        if alert.event_ms is not None:
            stamp = _naive(alert.event_ms) if alert.kind == "events_v2_naive" else iso_in_zone(alert.event_ms, tz)
        cef = {
            "creation_time": stamp,
            "dedup_key": alert.alert_key,
            "description": origin.title,
            "details": details,
            "event_class": None,
            "message": origin.title,
            "severity": alert.severity,
            "source_origin": f"{details['service']}.prod.acme.internal",
            "source_component": details["service"],
            "reporter_component": "prometheus",
            "reporter_location": None,
            "service_group": None,
            "client": "Alertmanager",
            "client_url": "https://alertmanager.acme.internal",
            "contexts": [],
            "mutations": [],
            "priority": None,
            "urgency": None,
            "version": "1.0",
        }
    first = origin.events[0]
    trigger: dict[str, Any] = {
        "id": first.log_id,
        "type": "trigger_log_entry_reference",
        "summary": "Triggered through the API.",
        "self": f"{req.base}/log_entries/{first.log_id}?incident_id={origin.id}",
        "html_url": f"{api._web(req)}/incidents/{origin.id}/log_entries/{first.log_id}",
    }
    if "first_trigger_log_entries" in include:
        trigger = api._log_entry(req, origin, first, tz, set())
    service = (api._service(req, api.data.service[origin.service_id], tz, api._service_status(req.now_ms))
               if "services" in include else api._service_ref(req, origin.service_id))
    incident = (api._incident(req, holder, incident_state(holder, req.now_ms), tz, set())
                if "incidents" in include else api._incident_ref(req, holder))
    return {
        "id": alert.id,
        "type": "alert",
        "summary": origin.title,
        "self": f"{req.base}/incidents/{holder.id}/alerts/{alert.id}",
        "html_url": f"{api._web(req)}/alerts/{alert.id}",
        "created_at": iso_in_zone(alert.created_ms, tz),
        "status": status,
        "alert_key": alert.alert_key,
        "service": service,
        "first_trigger_log_entry": trigger,
        "incident": incident,
        "suppressed": False,
        "severity": alert.severity,
        "integration": {
            "id": integration,
            "type": itype,
            "summary": iname,
            "self": f"{req.base}/services/{origin.service_id}/integrations/{integration}",
            "html_url": f"{api._web(req)}/services/{origin.service_id}/integrations/{integration}",
        },
        "body": {"type": "alert_body", "contexts": [], "details": details, "cef_details": cef},
    }


def incident_alerts(api: Any, req: Request, invalid: Any) -> Response:
    """The handler: `api` is the PagerDutyApi (paging, references), `invalid` its error-2001 builder."""
    found = api._visible(req, req.path_params["id"])
    if found is None:
        return api.not_found(req)
    inc = found[0]
    try:
        tz = api._tz(req, zone("UTC"))
    except TimeFormatError:
        return invalid("Time zone is invalid.")
    statuses = set(req.params("statuses[]"))
    if statuses - set(_STATUSES):
        return invalid("Statuses must be a list of triggered or resolved.")
    include = set(req.params("include[]"))
    if include - set(_INCLUDES):
        return invalid("Include must be a list of services, first_trigger_log_entries or incidents.")
    sort = []
    for part in [p.strip() for p in (req.param("sort_by") or "").split(",") if p.strip()]:
        name, _, direction = part.partition(":")
        if name not in _SORTS or direction not in ("", "asc", "desc"):
            return invalid("Sort by must be at most two of created_at, resolved_at, each optionally followed "
                           "by :asc or :desc.")
        sort.append((name, direction != "desc"))
    if len(sort) > 2:
        return invalid("Sort by must be at most two of created_at, resolved_at.")
    key = req.param("alert_key")
    now = req.now_ms
    rows = []
    for alert, origin in api.data.alerts(inc, now):
        status, resolved = alert_status(api, inc, now)
        if (statuses and status not in statuses) or (key and alert.alert_key != key):
            continue
        rows.append((alert, origin, resolved))
    for name, ascending in reversed(sort):
        rows.sort(key=lambda row, f=name: row[0].created_ms if f == "created_at" else (row[2] or 2**62),
                  reverse=not ascending)
    return api._page(req, "alerts", rows, lambda row: render_alert(api, req, row[0], row[1], inc, tz, include))
