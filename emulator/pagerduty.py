"""PagerDuty REST v2 route handlers: incidents, log entries, services, teams, users, policies, priorities.

Reproduced on purpose: classic offset paging with `more` and `total` (null unless `total=true`), `limit` at
most 100, the `offset + limit > 10000` error 2002, the `/incidents` window on creation time (30 days by
default, `since` alone means one month, more than six months is an error, `date_range=all` lifts it), naive
`since/until` read in the account time zone, rendering in UTC for incidents but in the account zone for log
entries and services unless `time_zone` is given.
"""

from __future__ import annotations

from typing import Any

from emulator.auth import Credentials, pagerduty_check
from emulator.gen_pagerduty import (
    MAX_INCIDENT_LIFETIME,
    OVERVIEW_KINDS,
    PdEvent,
    PdIncident,
    PdIncidentState,
    PdService,
    incident_key,
    incident_state,
)
from emulator.generator import World
from emulator.ids import pd_id
from emulator.pagerduty_alerts import incident_alerts
from emulator.routing import Request, Response, Router, json_response
from emulator.strict import PagerDutyRateLimit, pagerduty_payment_required, pagerduty_too_many
from emulator.timefmt import DAY, MINUTE, TimeFormatError, add_months, iso_in_zone, parse_iso, zone
from emulator.timeline import QueryCache

MAX_LIMIT = 100
OFFSET_CAP = 10000
OFFSET_CAP_MESSAGE = (
    "Offset+limit exceeds maximum allowed value of 10000. Please try to refine your search to reduce the "
    "returned set of records below this number, like adding a date range."
)
ESCALATE_EVERY = 30 * MINUTE
_LOG_TYPES = {
    "trigger": "trigger_log_entry",
    "acknowledge": "acknowledge_log_entry",
    "resolve": "resolve_log_entry",
    "assign": "assign_log_entry",
    "notify": "notify_log_entry",
}
_SORT_FIELDS = ("incident_number", "created_at", "resolved_at", "urgency")


def _error(status: int, code: int, message: str, *errors: str) -> Response:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = list(errors)
    return json_response(status, {"error": body})


def _invalid(*errors: str) -> Response:
    return _error(400, 2001, "Invalid Input Provided", *errors)


class PagerDutyApi:
    name = "pagerduty"

    def __init__(self, world: World, creds: Credentials) -> None:
        self.strict = True  # set by the server from EmulatorConfig (emulator/strict.py)
        self.no_teams = False
        self.rate_limit = PagerDutyRateLimit()
        self.data = world.pagerduty
        self.creds = creds
        self.account_tz = zone(self.data.account_time_zone)
        self._answers = QueryCache()  # each list query's full answer at one clock value, reused by its pages
        r = self.router = Router()
        r.add("GET", "/incidents", self.list_incidents)
        r.add("GET", "/incidents/{id}", self.get_incident)
        r.add("GET", "/incidents/{id}/log_entries", self.incident_log_entries)
        r.add("GET", "/incidents/{id}/alerts", lambda req: incident_alerts(self, req, _invalid))
        r.add("GET", "/log_entries", self.list_log_entries)
        r.add("GET", "/log_entries/{id}", self.get_log_entry)
        r.add("GET", "/services", self.list_services)
        r.add("GET", "/services/{id}", self.get_service)
        r.add("GET", "/teams", self.list_teams)
        r.add("GET", "/teams/{id}", self.get_team)
        r.add("GET", "/users", self.list_users)
        r.add("GET", "/users/{id}", self.get_user)
        r.add("GET", "/escalation_policies", self.list_policies)
        r.add("GET", "/escalation_policies/{id}", self.get_policy)
        r.add("GET", "/priorities", self.list_priorities)

    # --- plumbing used by the server -----------------------------------------------------------------------

    def authenticate(self, req: Request) -> Response | None:
        return pagerduty_check(req, self.creds)

    def not_found(self, req: Request) -> Response:
        return _error(404, 2100, "Not Found")

    def internal_error(self, req: Request) -> Response:
        return _error(500, 2000, "Internal Error")

    def finalize(self, req: Request, resp: Response) -> Response:
        """Strict: the rate-limit headers on every answer, and a 429 (only ever a 429) once over the limit."""
        if not self.strict:
            return resp
        refused, headers = self.rate_limit.count(req.now_ms)
        if refused:
            return pagerduty_too_many(headers)
        resp.headers += headers
        return resp

    # --- parameters ----------------------------------------------------------------------------------------

    @staticmethod
    def _paging(req: Request) -> tuple[int, int, bool] | Response:
        try:
            limit = int(req.param("limit") or 25)
            offset = int(req.param("offset") or 0)
        except ValueError:
            return _invalid("Limit and offset must be integers.")
        if limit < 1 or offset < 0:
            return _invalid("Limit must be a positive integer and offset must not be negative.")
        if limit > MAX_LIMIT:
            return _invalid(f"Limit must be less than or equal to {MAX_LIMIT}.")
        if offset + limit > OFFSET_CAP:
            return _error(400, 2002, "Arguments Caused Error", OFFSET_CAP_MESSAGE)
        return limit, offset, (req.param("total") or "").lower() == "true"

    def _page(self, req: Request, key: str, items: list[Any], render: Any) -> Response:
        paging = self._paging(req)
        if isinstance(paging, Response):
            return paging
        limit, offset, want_total = paging
        page = items[offset : offset + limit]
        return json_response(
            200,
            {
                key: [render(item) for item in page],
                "limit": limit,
                "offset": offset,
                "more": bool(page) and offset + len(page) < len(items),
                "total": len(items) if want_total else None,
            },
        )

    def _tz(self, req: Request, default: Any) -> Any:
        name = req.param("time_zone")
        return default if not name else zone(name)

    def _range(
        self, req: Request, naive_tz: Any, default_days: int | None
    ) -> tuple[int, int] | None | Response:
        """since/until as epoch ms; None = unbounded. Naive values are read in naive_tz."""
        if req.param("date_range") == "all":
            return None
        since_raw, until_raw = req.param("since"), req.param("until")
        try:
            since = parse_iso(since_raw, naive_tz) if since_raw else None
            until = parse_iso(until_raw, naive_tz) if until_raw else None
        except TimeFormatError:
            return _error(400, 2004, "Invalid time values in 'since' and/or 'until' parameters")
        if default_days is None:
            return (since if since is not None else -(2**62), until if until is not None else 2**62)
        if since is None and until is None:
            since, until = req.now_ms - default_days * DAY, req.now_ms
        elif until is None:
            until = add_months(since, 1, naive_tz)  # type: ignore[arg-type]
        elif since is None:
            since = add_months(until, -1, naive_tz)
        assert since is not None and until is not None
        if until < since:
            return _error(400, 2005, "Invalid Query Date Range", "'until' must be after 'since'.")
        if until > add_months(since, 6, naive_tz):
            return _error(400, 2005, "Invalid Query Date Range", "The maximum date range is 6 months.")
        return since, until

    # --- references and objects ---------------------------------------------------------------------------

    @staticmethod
    def _web(req: Request) -> str:
        return f"{req.base}/web"

    def _ref(
        self, req: Request, kind: str, ident: str, summary: str, api: str, web: str | None
    ) -> dict[str, Any]:
        return {
            "id": ident,
            "type": f"{kind}_reference",
            "summary": summary,
            "self": f"{req.base}/{api}/{ident}",
            "html_url": None if web is None else f"{self._web(req)}/{web}/{ident}",
        }

    def _service_ref(self, req: Request, sid: str) -> dict[str, Any]:
        return self._ref(req, "service", sid, self.data.service[sid].name, "services", "service-directory")

    def _team_ref(self, req: Request, tid: str) -> dict[str, Any]:
        return self._ref(req, "team", tid, self.data.team[tid].name, "teams", "teams")

    def _user_ref(self, req: Request, uid: str) -> dict[str, Any]:
        return self._ref(req, "user", uid, self.data.user[uid].person.name, "users", "users")

    def _policy_ref(self, req: Request, pid: str) -> dict[str, Any]:
        return self._ref(
            req,
            "escalation_policy",
            pid,
            self.data.policy[pid].name,
            "escalation_policies",
            "escalation_policies",
        )

    def _agent_ref(self, req: Request, agent: tuple[str, str]) -> dict[str, Any]:
        return self._user_ref(req, agent[1]) if agent[0] == "user" else self._service_ref(req, agent[1])

    def _incident_ref(self, req: Request, inc: PdIncident) -> dict[str, Any]:
        return {
            "id": inc.id,
            "type": "incident_reference",
            "summary": f"[#{inc.number}] {inc.title}",
            "self": f"{req.base}/incidents/{inc.id}",
            "html_url": f"{self._web(req)}/incidents/{inc.id}",
        }

    def _priority(self, req: Request, pid: str, full: bool) -> dict[str, Any]:
        p = self.data.priority[pid]
        ref = {
            "id": p.id,
            "type": "priority" if full else "priority_reference",
            "summary": p.name,
            "self": f"{req.base}/priorities/{p.id}",
        }
        if full:
            ref |= {
                "html_url": None,
                "name": p.name,
                "description": p.description,
                "color": ("a8171c", "eb6016", "f9b406", "0d7fcc", "a1a1a1")[p.order % 5],
                "order": p.order,
            }
        return ref

    def _log_entry(
        self, req: Request, inc: PdIncident, ev: PdEvent, tz: Any, include: set[str]
    ) -> dict[str, Any]:
        user = self.data.user.get(ev.user_id or "")
        name = user.person.name if user else ""
        summary = {
            "trigger": (f"Triggered by {name} through the website." if ev.agent[0] == "user"
                        else f"Triggered through the {'API' if ev.channel == 'api' else ev.channel}."),
            "acknowledge": f"Acknowledged by {name}.",
            "resolve": f"Resolved by {name}." if ev.agent[0] == "user" else "Resolved through the API.",
            "assign": f"Assigned to {name}.",
            "notify": f"Notified {name} by push notification.",
        }[ev.kind]
        entry: dict[str, Any] = {
            "id": ev.log_id,
            "type": _LOG_TYPES[ev.kind],
            "summary": summary,
            "self": f"{req.base}/log_entries/{ev.log_id}?incident_id={inc.id}",
            "html_url": f"{self._web(req)}/incidents/{inc.id}/log_entries/{ev.log_id}",
            "created_at": iso_in_zone(ev.at_ms, tz),
            "agent": self._agent_ref(req, ev.agent),
            "channel": {"type": ev.channel, "summary": inc.title}
            if ev.kind == "trigger"
            else {"type": ev.channel},
            "service": self._service_ref(req, inc.service_id),
            "incident": (
                self._incident(req, inc, incident_state(inc, req.now_ms), tz, set())  # type: ignore[arg-type]
                if "incidents" in include
                else self._incident_ref(req, inc)
            ),
            "teams": [self._team_ref(req, inc.team_id)],
            "contexts": [],
        }
        if ev.kind == "trigger":
            entry["event_details"] = {"description": inc.title}
        elif ev.kind == "acknowledge":
            entry["acknowledgement_timeout"] = None
        elif ev.kind == "assign" and ev.user_id:
            entry["assignees"] = [self._user_ref(req, ev.user_id)]
        elif ev.kind == "notify" and ev.user_id:
            entry["user"] = self._user_ref(req, ev.user_id)
        return entry

    def _incident(
        self, req: Request, inc: PdIncident, st: PdIncidentState, tz: Any, include: set[str]
    ) -> dict[str, Any]:
        first = inc.events[0]
        trigger_ref: dict[str, Any] = {
            "id": first.log_id,
            "type": "trigger_log_entry_reference",
            "summary": "Triggered through the website." if first.agent[0] == "user" else "Triggered through the API.",
            "self": f"{req.base}/log_entries/{first.log_id}?incident_id={inc.id}",
            "html_url": f"{self._web(req)}/incidents/{inc.id}/log_entries/{first.log_id}",
        }
        if "first_trigger_log_entries" in include:
            trigger_ref = self._log_entry(req, inc, first, tz, set())
        pending: list[dict[str, Any]] = []
        if st.status == "triggered":
            steps = (req.now_ms - st.last_trigger_ms) // ESCALATE_EVERY + 1
            pending.append(
                {"type": "escalate", "at": iso_in_zone(st.last_trigger_ms + steps * ESCALATE_EVERY, tz)}
            )
        resolved = st.status == "resolved"
        alerts = len(self.data.alerts(inc, req.now_ms))
        merged_into = self.data.merged_into(inc.n, req.now_ms)
        full_users = {"assignees", "users"} & include
        service = (
            self._service(req, self.data.service[inc.service_id], tz, self._service_status(req.now_ms))
            if "services" in include
            else self._service_ref(req, inc.service_id)
        )
        return {
            "id": inc.id,
            "type": "incident",
            "summary": f"[#{inc.number}] {inc.title}",
            "self": f"{req.base}/incidents/{inc.id}",
            "html_url": f"{self._web(req)}/incidents/{inc.id}",
            "incident_number": inc.number,
            "title": inc.title,
            "created_at": iso_in_zone(inc.created_ms, tz),
            "updated_at": iso_in_zone(st.updated_ms, tz),
            "status": st.status,
            "incident_key": inc.incident_key,
            "service": service,
            "assignments": [
                {
                    "at": iso_in_zone(at, tz),
                    "assignee": self._user(req, uid) if full_users else self._user_ref(req, uid),
                }
                for at, uid in st.assignments
            ],
            "assigned_via": "escalation_policy",
            "last_status_change_at": iso_in_zone(st.last_status_change_ms, tz),
            "resolved_at": iso_in_zone(st.resolved_ms, tz) if st.resolved_ms is not None else None,
            "first_trigger_log_entry": trigger_ref,
            "alert_counts": {
                "all": alerts,
                "triggered": 0 if resolved else alerts,
                "resolved": alerts if resolved else 0,
            },
            "is_mergeable": True,
            "incident_type": {"name": "incident_default"},
            "escalation_policy": (
                self._policy(req, inc.policy_id)
                if "escalation_policies" in include
                else self._policy_ref(req, inc.policy_id)
            ),
            "teams": [
                self._team(req, inc.team_id) if "teams" in include else self._team_ref(req, inc.team_id)
            ],
            "pending_actions": pending,
            "acknowledgements": [
                {
                    "at": iso_in_zone(at, tz),
                    "acknowledger": (
                        self._user(req, uid)
                        if "acknowledgers" in include or "users" in include
                        else self._user_ref(req, uid)
                    ),
                }
                for at, uid in st.acknowledgements
            ],
            "alert_grouping": None
            if inc.alert_count <= 1
            else {  # grouping_type is one of basic | advanced | rules (the OpenAPI enum; "intelligent" is a
                # service-level alert grouping setting, not an incident's grouping type)
                "grouping_type": "advanced",
                "started_at": iso_in_zone(inc.created_ms, tz),
                "ended_at": iso_in_zone(st.resolved_ms, tz) if st.resolved_ms is not None else None,
                "alert_grouping_active": not resolved,
            },
            "last_status_change_by": self._agent_ref(req, st.last_status_change_by),
            "priority": None
            if inc.priority_id is None
            else self._priority(req, inc.priority_id, "priorities" in include),
            "resolve_reason": None if merged_into is None else {
                "type": "merge_resolve_reason", "incident": self._incident_ref(req, merged_into)},
            "incidents_responders": [],
            "responder_requests": [],
            "urgency": inc.urgency,
        }

    def _service_status(self, now_ms: int) -> dict[str, str]:
        status: dict[str, str] = {}
        for n in self.data.index_range(now_ms - MAX_INCIDENT_LIFETIME, now_ms + 1):  # open ones are recent
            inc = self.data.incidents.get(n)
            st = incident_state(inc, now_ms)
            if st is None:
                continue
            if st.status == "triggered":
                status[inc.service_id] = "critical"
            elif st.status == "acknowledged" and status.get(inc.service_id) != "critical":
                status[inc.service_id] = "warning"
        return status

    def _service(self, req: Request, svc: PdService, tz: Any, status: dict[str, str]) -> dict[str, Any]:
        last = self.data.last_created(svc.id, req.now_ms)
        supported = svc.urgency_rule == "use_support_hours"
        integration = pd_id("P", 7, svc.id, "integration")
        out = {
            "id": svc.id,
            "summary": svc.name,
            "type": "service",
            "self": f"{req.base}/services/{svc.id}",
            "html_url": f"{self._web(req)}/service-directory/{svc.id}",
            "name": svc.name,
            "description": svc.description,
            "auto_resolve_timeout": None,
            "acknowledgement_timeout": None,
            "created_at": iso_in_zone(svc.created_ms, tz),
            "status": status.get(svc.id, "active"),

            "alert_creation": "create_alerts_and_incidents",
            "alert_grouping_parameters": {"type": "intelligent"},
            "integrations": [
                {
                    "id": integration,
                    "type": "events_api_v2_inbound_integration_reference",
                    "summary": "Events API V2",
                    "self": f"{req.base}/services/{svc.id}/integrations/{integration}",
                    "html_url": f"{self._web(req)}/services/{svc.id}/integrations/{integration}",
                }
            ],
            "escalation_policy": self._policy_ref(req, svc.policy_id),
            "teams": [self._team_ref(req, svc.team_id)],
            "incident_urgency_rule": (
                {
                    "type": "use_support_hours",
                    "during_support_hours": {"type": "constant", "urgency": "high"},
                    "outside_support_hours": {"type": "constant", "urgency": "low"},
                }
                if supported
                else {"type": "constant", "urgency": "high"}
            ),
            "support_hours": (
                {
                    "type": "fixed_time_per_day",
                    "time_zone": self.data.account_time_zone,
                    "start_time": "09:00:00",
                    "end_time": "17:00:00",
                    "days_of_week": [1, 2, 3, 4, 5],
                }
                if supported
                else None
            ),
            "scheduled_actions": [],
            "addons": [],
            "auto_pause_notifications_parameters": {"enabled": False, "timeout": 300},
        }
        # Both are plain objects/strings in the OpenAPI document, never null: a value or no key at all.
        if last is not None:
            out["last_incident_timestamp"] = iso_in_zone(last, tz)
        if not supported:
            del out["support_hours"]
        return out

    def _team(self, req: Request, tid: str) -> dict[str, Any]:
        t = self.data.team[tid]
        return {
            "id": t.id,
            "type": "team",
            "summary": t.name,
            "self": f"{req.base}/teams/{t.id}",
            "html_url": f"{self._web(req)}/teams/{t.id}",
            "name": t.name,
            "description": t.description,
            "default_role": "manager",
            "parent": None,
        }

    def _user(self, req: Request, uid: str) -> dict[str, Any]:
        u = self.data.user[uid]
        teams = sorted({p.team_id for p in self.data.policies if uid in p.user_ids})
        return {
            "name": u.person.name,
            "email": u.person.email,
            "time_zone": u.person.time_zone,
            "color": "purple",
            "avatar_url": f"{req.base}/web/avatars/{u.id}.png",
            "billed": True,
            "role": u.role,
            "description": None,
            "invitation_sent": False,
            "job_title": "Site Reliability Engineer",
            "teams": [self._team_ref(req, t) for t in teams],
            "contact_methods": [],
            "notification_rules": [],
            "coordinated_incidents": [],
            "id": u.id,
            "type": "user",
            "summary": u.person.name,
            "self": f"{req.base}/users/{u.id}",
            "html_url": f"{self._web(req)}/users/{u.id}",
        }

    def _policy(self, req: Request, pid: str) -> dict[str, Any]:
        p = self.data.policy[pid]
        return {
            "id": p.id,
            "type": "escalation_policy",
            "summary": p.name,
            "self": f"{req.base}/escalation_policies/{p.id}",
            "html_url": f"{self._web(req)}/escalation_policies/{p.id}",
            "name": p.name,
            "description": "",
            "escalation_rules": [
                {
                    "id": pd_id("P", 7, p.id, "rule"),
                    "escalation_delay_in_minutes": 30,
                    "targets": [self._user_ref(req, u) for u in p.user_ids],
                }
            ],
            "services": [self._service_ref(req, s.id) for s in self.data.services if s.policy_id == p.id],
            "num_loops": 0,
            "teams": [self._team_ref(req, p.team_id)],
            "on_call_handoff_notifications": "if_has_services",
        }

    # --- incidents -----------------------------------------------------------------------------------------

    def list_incidents(self, req: Request) -> Response:
        try:
            tz = self._tz(req, zone("UTC"))
        except TimeFormatError:
            return _invalid("Time zone is invalid.")
        naive_tz = tz if req.param("time_zone") else self.account_tz
        window = self._range(req, naive_tz, default_days=30)
        if isinstance(window, Response):
            return window
        statuses = set(req.params("statuses[]"))
        if statuses - {"triggered", "acknowledged", "resolved"}:
            return _invalid("Status must be a list of triggered, acknowledged, or resolved.")
        urgencies = set(req.params("urgencies[]"))
        if urgencies - {"high", "low"}:
            return _invalid("Urgency must be one of high or low.")
        services, teams = set(req.params("service_ids[]")), set(req.params("team_ids[]"))
        users, key = set(req.params("user_ids[]")), req.param("incident_key")
        sort = self._sort(req.param("sort_by"))
        if isinstance(sort, Response):
            return sort
        include = set(req.params("include[]"))

        now = req.now_ms
        lo, hi = window if window is not None else (-(2**62), 2**62)
        cache_key = ("incidents", now, lo, hi, frozenset(statuses), frozenset(urgencies), frozenset(services),
                     frozenset(teams), frozenset(users), key, tuple(sort))

        def answer() -> list[int] | range:
            """Incident numbers n matching the query, in the requested order (built only where state matters)."""
            data = self.data
            found: list[int] | range = data.index_range(lo, min(hi, now + 1))  # created in the window, by now
            if (statuses and "resolved" not in statuses) or users:  # only open incidents: only recent ones
                found = range(max(found.start, data.index_range(now - MAX_INCIDENT_LIFETIME, now).start), found.stop)
            if services or teams:
                found = [n for n in found if (not services or data.skeleton[n][1].id in services)
                         and (not teams or data.skeleton[n][1].team_id in teams)]
            if key:
                found = [n for n in found if incident_key(data.seed, n) == key]
            stateful = statuses or urgencies or users or any(f in ("resolved_at", "urgency") for f, _ in sort)
            if not stateful:
                if sort == [("created_at", True)]:
                    return found
                order = list(found)
                for name, ascending in reversed(sort):
                    order.sort(key=lambda n: data.created[n] if name == "created_at" else n, reverse=not ascending)
                return order
            rows = []
            for n in found:
                inc = data.incidents.get(n)
                st = incident_state(inc, now)
                if st is None:
                    continue
                if (statuses and st.status not in statuses) or (urgencies and inc.urgency not in urgencies):
                    continue
                if users and (st.status == "resolved" or not users & {uid for _, uid in st.assignments}):
                    continue
                rows.append((inc, st))
            for name, ascending in reversed(sort):
                rows.sort(key=lambda row, f=name: _sort_value(row, f), reverse=not ascending)
            return [inc.n for inc, _ in rows]

        def render(n: int) -> dict[str, Any]:
            inc = self.data.incidents.get(n)
            return self._incident(req, inc, incident_state(inc, now), tz, include)  # type: ignore[arg-type]

        return self._page(req, "incidents", self._answers.get(cache_key, answer), render)

    @staticmethod
    def _sort(raw: str | None) -> list[tuple[str, bool]] | Response:
        if not raw:
            return [("created_at", True)]
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        out = []
        for part in parts:
            name, _, direction = part.partition(":")
            if name not in _SORT_FIELDS or direction not in ("", "asc", "desc") or len(parts) > 2:
                return _invalid(
                    "Sort by must be at most two of incident_number, created_at, resolved_at, urgency, "
                    "each optionally followed by :asc or :desc."
                )
            out.append((name, direction != "desc"))
        return out

    def _visible(self, req: Request, ident: str) -> tuple[PdIncident, PdIncidentState] | None:
        inc = self.data.incident(ident)  # by id, or by incident number as PagerDuty also accepts
        state = incident_state(inc, req.now_ms) if inc is not None else None
        return None if state is None else (inc, state)  # type: ignore[return-value]

    def get_incident(self, req: Request) -> Response:
        found = self._visible(req, req.path_params["id"])
        if found is None:
            return self.not_found(req)
        try:
            tz = self._tz(req, zone("UTC"))
        except TimeFormatError:
            return _invalid("Time zone is invalid.")
        return json_response(200, {"incident": self._incident(req, *found, tz, set(req.params("include[]")))})

    # --- log entries ---------------------------------------------------------------------------------------

    def _log_list(self, req: Request, incident: PdIncident | None) -> Response:
        try:
            tz = self._tz(req, self.account_tz)
        except TimeFormatError:
            return _invalid("Time zone is invalid.")
        window = self._range(req, tz, default_days=None)
        if isinstance(window, Response):
            return window
        overview = (req.param("is_overview") or "").lower() == "true"
        teams, include = set(req.params("team_ids[]")), set(req.params("include[]"))
        now = req.now_ms
        lo, hi = window if window is not None else (-(2**62), 2**62)

        def answer() -> list[tuple[int, int]]:
            """(incident n, event index) of the matching entries, newest first; same-instant entries in reverse
            event order. Entries of one window belong to incidents created at most MAX_INCIDENT_LIFETIME before
            it, so only those are built."""
            data = self.data
            if incident is not None:
                candidates: Any = [incident.n]
            else:
                candidates = data.index_range(max(lo, -(2**61)) - MAX_INCIDENT_LIFETIME, min(hi, now + 1))
            keyed = []
            for n in candidates:
                if teams and data.skeleton[n][1].team_id not in teams:
                    continue
                inc = data.incidents.get(n)
                for k, ev in enumerate(inc.events):
                    if ev.at_ms > now or not lo <= ev.at_ms < hi or (overview and ev.kind not in OVERVIEW_KINDS):
                        continue
                    keyed.append((ev.at_ms, n, k))
            keyed.sort(reverse=True)
            return [(n, k) for _, n, k in keyed]

        cache_key = ("log_entries", now, lo, hi, overview, frozenset(teams), incident.n if incident else None)

        def render(row: tuple[int, int]) -> dict[str, Any]:
            inc = self.data.incidents.get(row[0])
            return self._log_entry(req, inc, inc.events[row[1]], tz, include)

        return self._page(req, "log_entries", self._answers.get(cache_key, answer), render)

    def list_log_entries(self, req: Request) -> Response:
        return self._log_list(req, None)

    def incident_log_entries(self, req: Request) -> Response:
        found = self._visible(req, req.path_params["id"])
        return self.not_found(req) if found is None else self._log_list(req, found[0])

    def get_log_entry(self, req: Request) -> Response:
        hit = self.data.log_entry(req.path_params["id"])
        if hit is None or hit[1].at_ms > req.now_ms:
            return self.not_found(req)
        try:
            tz = self._tz(req, self.account_tz)
        except TimeFormatError:
            return _invalid("Time zone is invalid.")
        return json_response(
            200, {"log_entry": self._log_entry(req, hit[0], hit[1], tz, set(req.params("include[]")))}
        )

    # --- configuration objects -----------------------------------------------------------------------------

    def list_services(self, req: Request) -> Response:
        try:
            tz = self._tz(req, self.account_tz)
        except TimeFormatError:
            return _invalid("Time zone is invalid.")
        query = (req.param("query") or req.param("name") or "").lower()
        teams = set(req.params("team_ids[]"))
        rows = [
            s
            for s in self.data.services
            if s.created_ms <= req.now_ms and query in s.name.lower() and (not teams or s.team_id in teams)
        ]
        sort_by = req.param("sort_by") or "name"
        if sort_by not in ("name", "name:asc", "name:desc"):
            return _invalid("Sort by must be one of name, name:asc, name:desc.")
        rows.sort(key=lambda s: s.name.lower(), reverse=sort_by == "name:desc")
        status = self._service_status(req.now_ms)
        return self._page(req, "services", rows, lambda s: self._service(req, s, tz, status))

    def get_service(self, req: Request) -> Response:
        svc = self.data.service.get(req.path_params["id"])
        if svc is None:
            return self.not_found(req)
        try:
            tz = self._tz(req, self.account_tz)
        except TimeFormatError:
            return _invalid("Time zone is invalid.")
        return json_response(200, {"service": self._service(req, svc, tz, self._service_status(req.now_ms))})

    def list_teams(self, req: Request) -> Response:
        if self.no_teams:
            return pagerduty_payment_required()
        query = (req.param("query") or "").lower()
        rows = [t for t in self.data.teams if query in t.name.lower()]
        return self._page(req, "teams", rows, lambda t: self._team(req, t.id))

    def get_team(self, req: Request) -> Response:
        if self.no_teams:
            return pagerduty_payment_required()
        tid = req.path_params["id"]
        return (
            json_response(200, {"team": self._team(req, tid)})
            if tid in self.data.team
            else self.not_found(req)
        )

    def list_users(self, req: Request) -> Response:
        query = (req.param("query") or "").lower()
        rows = [u for u in self.data.users if query in u.person.name.lower() or query in u.person.email]
        return self._page(req, "users", rows, lambda u: self._user(req, u.id))

    def get_user(self, req: Request) -> Response:
        uid = req.path_params["id"]
        return (
            json_response(200, {"user": self._user(req, uid)})
            if uid in self.data.user
            else self.not_found(req)
        )

    def list_policies(self, req: Request) -> Response:
        return self._page(
            req, "escalation_policies", list(self.data.policies), lambda p: self._policy(req, p.id)
        )

    def get_policy(self, req: Request) -> Response:
        pid = req.path_params["id"]
        if pid not in self.data.policy:
            return self.not_found(req)
        return json_response(200, {"escalation_policy": self._policy(req, pid)})

    def list_priorities(self, req: Request) -> Response:
        return self._page(
            req, "priorities", list(self.data.priorities), lambda p: self._priority(req, p.id, True)
        )


def _sort_value(row: tuple[PdIncident, PdIncidentState], field: str) -> Any:
    inc, st = row
    if field == "incident_number":
        return inc.number
    if field == "created_at":
        return inc.created_ms
    if field == "urgency":
        return 0 if inc.urgency == "high" else 1
    return st.resolved_ms if st.resolved_ms is not None else 2**62  # open incidents after resolved ones
