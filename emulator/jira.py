"""Jira Cloud REST v3 (and v2 paths) route handlers: enhanced JQL search, issues, changelogs, metadata.

Behaviour that extractors must cope with is reproduced on purpose: `/search/jql` returns ids only unless
`fields` is given, has no `total`, pages by an opaque `nextPageToken` (left out on the last page, which says
`isLast: true`), caps `maxResults` at 100 for real fields and 5000 for id/key only, rejects unbounded JQL, and
renders timestamps in the API user's time zone. The removed `/search` answers 410. Embedded changelogs
(`expand=changelog`) are cut to the newest 20 entries, newest first; `/issue/{key}/changelog` pages the full
history oldest first. Deleted issues vanish from every answer; moved issues answer to their former keys too.
A release project's versions (`/project/{key}/version`, paged, and `/versions`) are served by
emulator/jira_versions.py.

Burst rate limit (off by default): `JiraApi.set_burst(limit)` or the environment variable
`EMULATOR_JIRA_BURST=<limit>` (read at start-up; `EMULATOR_JIRA_RETRY_AFTER` sets the wait, default 1 s) lets
`limit` authenticated requests through, answers the next one 429 with `Retry-After`, and starts a new burst,
as if the client had waited. Counting requests instead of reading a wall clock keeps answers deterministic.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading
from bisect import bisect_left, bisect_right
from typing import Any
from urllib.parse import urlencode

from emulator import jql
from emulator.auth import Credentials, jira_check
from emulator.gen_jira import (
    CATEGORIES,
    DONE,
    ISSUE_TYPES,
    MAX_ISSUE_LIFETIME,
    PRIORITIES,
    RESOLUTIONS,
    STATUSES,
    JiraData,
    JiraEvent,
    JiraIssue,
    issue_state,
)
from emulator.gen_jira import JiraIssueState as State
from emulator.gen_jira_versions import is_release_project, train_version
from emulator.generator import World
from emulator.ids import hex_id
from emulator.jira_versions import project_versions_all, project_versions_paged
from emulator.routing import Request, Response, Router, json_response
from emulator.timefmt import DAY, SECOND, jira_timestamp, to_datetime, zone
from emulator.timeline import QueryCache

CONTENT_TYPE = "application/json;charset=UTF-8"
ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration "
    "guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
UNBOUNDED = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
BAD_TOKEN = "The provided next page token is invalid or expired."
EMBEDDED_CHANGELOG_MAX = {"search": 20, "issue": 100}

# id, display name, schema type, navigable
FIELDS = (
    ("summary", "Summary", "string", True),
    ("issuetype", "Issue Type", "issuetype", True),
    ("project", "Project", "project", True),
    ("status", "Status", "status", True),
    ("priority", "Priority", "priority", True),
    ("labels", "Labels", "array", True),
    ("assignee", "Assignee", "user", True),
    ("reporter", "Reporter", "user", True),
    ("creator", "Creator", "user", True),
    ("created", "Created", "datetime", True),
    ("updated", "Updated", "datetime", True),
    ("resolutiondate", "Resolved", "datetime", True),
    ("resolution", "Resolution", "resolution", True),
    ("statuscategorychangedate", "Status Category Changed", "datetime", True),
    ("components", "Components", "array", True),
    ("fixVersions", "Fix versions", "array", True),
    ("duedate", "Due date", "date", True),
    ("description", "Description", "string", True),
    ("environment", "Environment", "string", True),
    ("comment", "Comment", "comments-page", False),
)
FIELD_IDS = {f[0] for f in FIELDS}
_FIELD_BY_LOWER = {f[0].lower(): f[0] for f in FIELDS}


def _error(status: int, *messages: str) -> Response:
    return json_response(status, {"errorMessages": list(messages), "errors": {}}, CONTENT_TYPE)


class BurstLimiter:
    """Jira's burst limit, counted: `limit` requests pass, the next gets 429 + Retry-After, then a new burst."""

    def __init__(self, limit: int = 0, retry_after_s: int = 1) -> None:
        self._lock = threading.Lock()
        self.limit = 0
        self.retry_after_s = 1
        self.refused = 0
        self._used = 0
        self.configure(limit, retry_after_s)

    def configure(self, limit: int, retry_after_s: int = 1) -> None:
        if limit < 0 or retry_after_s < 0:
            raise ValueError("burst limit and Retry-After must not be negative")
        with self._lock:
            self.limit, self.retry_after_s, self._used = int(limit), int(retry_after_s), 0

    def check(self) -> bool:
        """True when this request may pass; False = answer 429 (and the next request starts a new burst)."""
        with self._lock:
            if self.limit <= 0:
                return True
            if self._used < self.limit:
                self._used += 1
                return True
            self._used = 0
            self.refused += 1
            return False

    @classmethod
    def from_env(cls) -> BurstLimiter:
        limit = os.environ.get("EMULATOR_JIRA_BURST", "").strip()
        wait = os.environ.get("EMULATOR_JIRA_RETRY_AFTER", "").strip()
        return cls(int(limit) if limit else 0, int(wait) if wait else 1)


class JiraApi:
    name = "jira"
    content_type = CONTENT_TYPE

    def __init__(self, world: World, creds: Credentials) -> None:
        self.world = world
        self.data = world.jira
        self.creds = creds
        self.tz = zone(self.data.user_time_zone)
        self.myself_id = hex_id(24, world.seed, "jira-myself")
        self.burst = BurstLimiter.from_env()
        self._answers = QueryCache()  # each JQL's ordered answer at one clock value, reused by its pages
        self.router = Router()
        for v in ("3", "2"):
            api = f"/rest/api/{v}"
            self.router.add("GET", f"{api}/serverInfo", self.server_info, anonymous=True)
            self.router.add("GET", f"{api}/myself", self.myself)
            self.router.add("GET", f"{api}/field", self.fields)
            self.router.add("GET", f"{api}/project", self.projects)
            self.router.add("GET", f"{api}/project/search", self.project_search)
            self.router.add("GET", f"{api}/project/{{projectIdOrKey}}", self.project)
            self.router.add("GET", f"{api}/project/{{projectIdOrKey}}/version",
                            lambda req: project_versions_paged(self, req))
            self.router.add("GET", f"{api}/project/{{projectIdOrKey}}/versions",
                            lambda req: project_versions_all(self, req))
            self.router.add("GET", f"{api}/status", self.statuses)
            self.router.add("GET", f"{api}/status/{{idOrName}}", self.status)
            self.router.add("GET", f"{api}/search/jql", self.search)
            self.router.add("POST", f"{api}/search/jql", self.search)
            self.router.add("POST", f"{api}/search/approximate-count", self.approximate_count)
            self.router.add("GET", f"{api}/search", self.search_removed)
            self.router.add("POST", f"{api}/search", self.search_removed)
            self.router.add("GET", f"{api}/issue/{{issueIdOrKey}}", self.issue)
            self.router.add("GET", f"{api}/issue/{{issueIdOrKey}}/changelog", self.issue_changelog)

    # --- plumbing used by the server -----------------------------------------------------------------------

    def authenticate(self, req: Request) -> Response | None:
        refused = jira_check(req, self.creds)
        if refused is not None or self.burst.check():
            return refused
        wait = self.burst.retry_after_s
        reset = to_datetime(req.now_ms + wait * SECOND).strftime("%Y-%m-%dT%H:%MZ")
        return json_response(
            429,
            {"errorMessages": ["Rate limit exceeded."], "errors": {}},
            CONTENT_TYPE,
            [("Retry-After", str(wait)), ("X-RateLimit-Reset", reset), ("RateLimit-Reason", "jira-burst-based")],
        )

    def set_burst(self, limit: int, retry_after_s: int = 1) -> None:
        """Turn the burst limit on (`limit` requests per burst) or off (0)."""
        self.burst.configure(limit, retry_after_s)

    def not_found(self, req: Request) -> Response:
        query = f"?{urlencode(req.query)}" if req.query else ""
        return json_response(
            404, {"message": f"null for uri: {req.base}{req.path}{query}", "status-code": 404}, CONTENT_TYPE
        )

    def internal_error(self, req: Request) -> Response:
        return _error(500, "Internal server error")

    def finalize(self, req: Request, resp: Response) -> Response:
        return resp

    # --- small renderers -----------------------------------------------------------------------------------

    def _ts(self, ms: int | None) -> str | None:
        return None if ms is None else jira_timestamp(ms, self.tz)

    def _api(self, req: Request) -> str:
        version = "2" if req.path.startswith("/rest/api/2/") else "3"
        return f"{req.base}/rest/api/{version}"

    api_base = _api  # for the handlers kept in modules of their own (emulator/jira_versions.py)

    def _avatars(self, req: Request, kind: str, ident: str) -> dict[str, str]:
        return {
            s: f"{req.base}/secure/{kind}avatar?size={s}&id={ident}"
            for s in ("48x48", "24x24", "16x16", "32x32")
        }

    def _user(self, req: Request, account_id: str | None) -> dict[str, Any] | None:
        person = self.data.person_by_account.get(account_id or "")
        if person is None:
            return None
        return {
            "self": f"{self._api(req)}/user?accountId={person.jira_account_id}",
            "accountId": person.jira_account_id,
            "avatarUrls": self._avatars(req, "user", person.jira_account_id),
            "displayName": person.name,
            "active": True,
            "timeZone": person.time_zone,
            "accountType": "atlassian",
        }

    def _project(self, req: Request, key: str) -> dict[str, Any]:
        project = self.data.project[key]
        return {
            "self": f"{self._api(req)}/project/{project.id}",
            "id": project.id,
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
            "simplified": False,
            "avatarUrls": self._avatars(req, "project", project.id),
        }

    def _status(self, req: Request, status_id: str) -> dict[str, Any]:
        status = STATUSES[status_id]
        cat_id, color, cat_name = CATEGORIES[status.category]
        return {
            "self": f"{self._api(req)}/status/{status.id}",
            "description": "",
            "iconUrl": f"{req.base}/images/icons/statuses/generic.png",
            "name": self.data.status_name(status.id, req.now_ms),
            "id": status.id,
            "statusCategory": {
                "self": f"{self._api(req)}/statuscategory/{cat_id}",
                "id": cat_id,
                "key": status.category,
                "colorName": color,
                "name": cat_name,
            },
        }

    def _field_value(self, req: Request, name: str, issue: JiraIssue, state: State) -> Any:
        api = self._api(req)
        if name == "summary":
            return issue.summary
        if name == "issuetype":
            t = ISSUE_TYPES[issue.issuetype_id]
            return {
                "self": f"{api}/issuetype/{t.id}",
                "id": t.id,
                "description": t.description,
                "iconUrl": f"{req.base}/secure/viewavatar?size=medium&avatarId={t.avatar_id}"
                "&avatarType=issuetype",
                "name": t.name,
                "subtask": False,
                "avatarId": t.avatar_id,
                "hierarchyLevel": 0,
            }
        if name == "project":
            return self._project(req, state.project_key)
        if name == "status":
            return self._status(req, state.status_id)
        if name == "priority":
            if state.priority_id is None:
                return None
            return {
                "self": f"{api}/priority/{state.priority_id}",
                "iconUrl": f"{req.base}/images/icons/priorities/{PRIORITIES[state.priority_id].lower()}.svg",
                "name": PRIORITIES[state.priority_id],
                "id": state.priority_id,
            }
        if name == "labels":
            return list(state.labels)
        if name == "assignee":
            return self._user(req, state.assignee)
        if name in ("reporter", "creator"):
            return self._user(req, self.data.people[issue.reporter].jira_account_id)
        if name == "created":
            return self._ts(issue.created_ms)
        if name == "updated":
            return self._ts(state.updated_ms)
        if name == "resolutiondate":
            return self._ts(state.resolution_ms)
        if name == "resolution":
            if state.resolution_ms is None:
                return None
            rid, rname = RESOLUTIONS[state.status_id]
            return {
                "self": f"{api}/resolution/{rid}",
                "id": rid,
                "description": f"Work has been marked {rname}.",
                "name": rname,
            }
        if name == "statuscategorychangedate":
            return self._ts(state.status_change_ms)
        if name == "fixVersions":
            # a release-based project's Done issues ride a release train (gen_jira_versions)
            if state.status_id != DONE or state.resolution_ms is None or not is_release_project(state.project_key):
                return []
            return [train_version(state.resolution_ms, state.project_key).render(api, req.now_ms)]
        if name == "components":
            return []
        if name in ("duedate", "environment"):
            return None
        if name == "description":
            text = f"{issue.summary}\n\nSee the linked incident for details."
            if req.path.startswith("/rest/api/2/"):
                return text
            return {
                "type": "doc",
                "version": 1,
                "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": line}]}
                    for line in text.split("\n\n")
                ],
            }
        if name == "comment":
            return {
                "comments": [],
                "self": f"{api}/issue/{issue.id}/comment",
                "maxResults": 0,
                "total": 0,
                "startAt": 0,
            }
        raise KeyError(name)

    def _history(self, req: Request, ev: JiraEvent) -> dict[str, Any]:
        return {
            "id": ev.history_id,
            "author": self._user(req, self.data.people[ev.author].jira_account_id),
            "created": self._ts(ev.at_ms),
            "items": [
                {
                    "field": c.field,
                    "fieldtype": c.fieldtype,
                    "fieldId": c.field_id,
                    "from": c.from_value,
                    "fromString": c.from_string,
                    "to": c.to_value,
                    "toString": c.to_string,
                }
                for c in ev.changes
            ],
        }

    def _embedded_changelog(self, req: Request, state: State, cap: int) -> dict[str, Any]:
        newest_first = list(reversed(state.histories))
        shown = newest_first[:cap]
        return {
            "startAt": 0,
            "maxResults": len(shown),
            "total": len(newest_first),
            "histories": [self._history(req, ev) for ev in shown],
        }

    def _render_issue(
        self,
        req: Request,
        issue: JiraIssue,
        state: State,
        fields: list[str] | None,
        expand: set[str],
        changelog_cap: int,
    ) -> dict[str, Any]:
        """fields None = ids only (the enhanced-search default); [] = envelope without fields."""
        if fields is None:
            item: dict[str, Any] = {"id": issue.id}
        else:
            item = {
                "expand": ISSUE_EXPAND,
                "id": issue.id,
                "self": f"{self._api(req)}/issue/{issue.id}",
                "key": state.key,
                "fields": {name: self._field_value(req, name, issue, state) for name in fields},
            }
        if "changelog" in expand:
            item["changelog"] = self._embedded_changelog(req, state, changelog_cap)
        return item

    # --- field / JQL helpers -------------------------------------------------------------------------------

    @staticmethod
    def _select_fields(raw: list[str]) -> tuple[list[str] | None, bool]:
        """Resolve the `fields` request into field ids (None = ids only) and whether only id/key was asked."""
        tokens = [t.strip() for part in raw for t in str(part).split(",") if t.strip()]
        if not tokens:
            return None, True
        chosen: list[str] = []
        excluded: set[str] = set()
        wants_key = False
        for tok in tokens:
            if tok in ("*all", "*navigable"):
                chosen += [f[0] for f in FIELDS if tok == "*all" or f[3]]
            elif tok.startswith("-"):
                excluded.add(_FIELD_BY_LOWER.get(tok[1:].lower(), tok[1:]))
            elif tok.lower() == "key":
                wants_key = True
            elif tok.lower() in _FIELD_BY_LOWER:
                chosen.append(_FIELD_BY_LOWER[tok.lower()])
        selected = [f[0] for f in FIELDS if f[0] in set(chosen) - excluded]
        if selected:
            return selected, False
        return ([] if wants_key else None), True

    def _specs(self, now_ms: int) -> dict[str, jql.FieldSpec]:
        projects = self.data.project
        status_known = frozenset(
            {s.name.lower() for s in STATUSES.values()}
            | {self.data.status_name(s, self.world.window.end_ms).lower() for s in STATUSES}
            | set(STATUSES)
        )
        cat_known = frozenset(
            set(CATEGORIES)
            | {v[2].lower() for v in CATEGORIES.values()}
            | {str(v[0]) for v in CATEGORIES.values()}
        )
        type_known = frozenset({t.name.lower() for t in ISSUE_TYPES.values()} | set(ISSUE_TYPES))
        prio_known = frozenset({n.lower() for n in PRIORITIES.values()} | set(PRIORITIES))
        person = self.data.person_by_account

        def user(account: str | None) -> tuple[str, str] | None:
            p = person.get(account or "")
            return None if p is None else (p.jira_account_id.lower(), p.name.lower())

        def cat(row: tuple[JiraIssue, State]) -> tuple[str, str, str]:
            cid, _, cname = CATEGORIES[row[1].category]
            return (row[1].category, cname.lower(), str(cid))

        key = jql.FieldSpec(
            "key", lambda row: (row[1].project_key, row[1].number, int(row[0].id), row[0].keys)
        )
        specs = {
            "project": jql.FieldSpec(
                "enum",
                lambda row: (
                    row[1].project_key.lower(),
                    projects[row[1].project_key].name.lower(),
                    projects[row[1].project_key].id,
                ),
                frozenset(
                    {p.key.lower() for p in projects.values()}
                    | {p.name.lower() for p in projects.values()}
                    | {p.id for p in projects.values()}
                ),
            ),
            "updated": jql.FieldSpec("date", lambda row: row[1].updated_ms),
            "created": jql.FieldSpec("date", lambda row: row[0].created_ms),
            "resolved": jql.FieldSpec("date", lambda row: row[1].resolution_ms),
            "status": jql.FieldSpec(
                "enum",
                lambda row: (self.data.status_name(row[1].status_id, now_ms).lower(), row[1].status_id),
                status_known,
            ),
            "statuscategory": jql.FieldSpec("enum", cat, cat_known),
            "issuetype": jql.FieldSpec(
                "enum",
                lambda row: (ISSUE_TYPES[row[0].issuetype_id].name.lower(), row[0].issuetype_id),
                type_known,
            ),
            "priority": jql.FieldSpec(
                "enum",
                lambda row: (
                    None
                    if row[1].priority_id is None
                    else (PRIORITIES[row[1].priority_id].lower(), row[1].priority_id)
                ),
                prio_known,
            ),
            "labels": jql.FieldSpec("multi", lambda row: row[1].labels),
            "assignee": jql.FieldSpec("user", lambda row: user(row[1].assignee)),
            "reporter": jql.FieldSpec(
                "user", lambda row: user(self.data.people[row[0].reporter].jira_account_id)
            ),
            "summary": jql.FieldSpec("text", lambda row: row[0].summary, sortable=False),
            "key": key,
        }
        for alias, target in (
            ("updateddate", "updated"),
            ("createddate", "created"),
            ("resolutiondate", "resolved"),
            ("type", "issuetype"),
            ("issuekey", "key"),
            ("id", "key"),
            ("text", "summary"),
        ):
            specs[alias] = specs[target]
        return specs

    def _run_jql(self, req: Request, text: str | None) -> list[int] | Response:
        """Issue numbers n matching the JQL at the clock, in order; computed once per (clock, query) and reused by
        every page. Only issues created late enough to satisfy the query's `updated`/`created` lower bounds are
        looked at, and each is built only when the query reads a field its skeleton does not know."""
        if not text or not text.strip():
            return _error(400, UNBOUNDED)
        now = req.now_ms
        try:
            query = jql.parse(text)
            if query.where is None:
                return _error(400, UNBOUNDED)
            ctx = jql.Context(self._specs(now), now, self.tz, current_user=self.myself_id)
            keep = jql.predicate(query.where, ctx)
            order = query.order or (("key", False),)
            for name, _ in order:  # refuse unsortable fields before any work, as Jira does
                spec = ctx.fields.get(name.lower())
                if spec is None or not spec.sortable:
                    raise jql.JqlError(f"Not able to sort using field '{name}'.")
            since = _created_lower_bound(query.where, ctx)
        except jql.JqlError as exc:
            return _error(400, str(exc))

        def answer() -> list[int]:
            data = self.data
            first = 0 if since is None else bisect_left(data.created, since - SECOND)
            specs = [ctx.fields[name.lower()] for name, _ in order]
            entries = []  # (sort values, n): rows themselves are dropped at once, so memory stays flat
            for n in range(first, bisect_right(data.created, now)):
                sk = data.skeleton[n]
                if not sk.exists(now):
                    continue
                row = _LazyRow(data, n, now)
                pair = (row.issue_view, row.state_view)
                if row.missing() or not keep(pair):
                    continue
                entries.append(([spec.get(pair) for spec in specs], n))
            for i in reversed(range(len(order))):  # jql.sort_rows: stable, empty values last either way
                present = [e for e in entries if e[0][i] is not None]
                missing = [e for e in entries if e[0][i] is None]
                present.sort(key=lambda e, i=i: e[0][i], reverse=not order[i][1])
                entries = present + missing
            return [n for _, n in entries]

        try:
            return self._answers.get((now, " ".join(text.split())), answer)
        except jql.JqlError as exc:
            return _error(400, str(exc))

    @staticmethod
    def _token(offset: int, text: str, now_ms: int) -> str:
        payload = {"o": offset, "q": hashlib.sha1(text.encode()).hexdigest()[:12], "t": now_ms // 1000}
        return (
            base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
        )

    @staticmethod
    def _offset(token: str | None, text: str, now_ms: int) -> int | None:
        if not token:
            return 0
        try:
            payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            fresh = now_ms // 1000 - int(payload["t"]) <= 7 * DAY // 1000
            same = payload["q"] == hashlib.sha1(text.encode()).hexdigest()[:12]
            return int(payload["o"]) if fresh and same else None
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None

    # --- handlers ------------------------------------------------------------------------------------------

    def search(self, req: Request) -> Response:
        if req.method == "POST":
            try:
                body = req.json_body()
            except (ValueError, UnicodeDecodeError):
                return _error(
                    400, "Invalid request payload. Refer to the REST API documentation and try again."
                )
            if not isinstance(body, dict):
                return _error(
                    400, "Invalid request payload. Refer to the REST API documentation and try again."
                )
            text, token = body.get("jql"), body.get("nextPageToken")
            raw_fields = body.get("fields") or []
            raw_fields = [raw_fields] if isinstance(raw_fields, str) else list(raw_fields)
            raw_expand = body.get("expand") or ""
            expand_text = ",".join(raw_expand) if isinstance(raw_expand, list) else str(raw_expand)
            max_raw = body.get("maxResults")
        else:
            text, token = req.param("jql"), req.param("nextPageToken")
            raw_fields = req.params("fields")
            expand_text = ",".join(req.params("expand"))
            max_raw = req.param("maxResults")
        fields, ids_only = self._select_fields(raw_fields)
        expand = {e.strip() for e in expand_text.split(",") if e.strip()}
        try:
            requested = 50 if max_raw in (None, "") else int(max_raw)
        except (TypeError, ValueError):
            return _error(400, f"The value '{max_raw}' is invalid for the maxResults parameter.")
        page_size = min(
            requested if requested > 0 else 50, 5000 if ids_only and "changelog" not in expand else 100
        )

        rows = self._run_jql(req, text)
        if isinstance(rows, Response):
            return rows
        offset = self._offset(token, text or "", req.now_ms)
        if offset is None:
            return _error(400, BAD_TOKEN)
        page = rows[offset : offset + page_size]
        more = offset + len(page) < len(rows)
        payload: dict[str, Any] = {"issues": []}
        for n in page:
            if fields is None and "changelog" not in expand:  # ids only: no need to build the issue
                payload["issues"].append({"id": str(10001 + n)})
                continue
            issue = self.data.issues.get(n)
            state = issue_state(issue, req.now_ms)
            assert state is not None
            payload["issues"].append(
                self._render_issue(req, issue, state, fields, expand, EMBEDDED_CHANGELOG_MAX["search"]))
        if more:
            payload["nextPageToken"] = self._token(offset + len(page), text or "", req.now_ms)
        payload["isLast"] = not more
        if "names" in expand and fields:
            payload["names"] = {f[0]: f[1] for f in FIELDS if f[0] in fields}
        return json_response(200, payload, CONTENT_TYPE)

    def approximate_count(self, req: Request) -> Response:
        try:
            body = req.json_body()
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return _error(400, "Invalid request payload. Refer to the REST API documentation and try again.")
        rows = self._run_jql(req, body.get("jql"))
        if isinstance(rows, Response):
            return rows
        return json_response(200, {"count": len(rows)}, CONTENT_TYPE)

    def search_removed(self, req: Request) -> Response:
        return _error(410, SEARCH_REMOVED)

    def _find(self, req: Request) -> tuple[JiraIssue, State] | None:
        ident = req.path_params["issueIdOrKey"]
        issue = self.data.by_id.get(ident) or self.data.by_key.get(ident.upper())
        if issue is None or not issue.exists(req.now_ms):
            return None
        state = issue_state(issue, req.now_ms)
        return None if state is None else (issue, state)

    def issue(self, req: Request) -> Response:
        found = self._find(req)
        if found is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        raw = req.params("fields") or ["*all"]
        fields, _ = self._select_fields(raw)
        expand = {e.strip() for part in req.params("expand") for e in part.split(",") if e.strip()}
        item = self._render_issue(
            req, *found, fields if fields is not None else [], expand, EMBEDDED_CHANGELOG_MAX["issue"]
        )
        return json_response(200, item, CONTENT_TYPE)

    def issue_changelog(self, req: Request) -> Response:
        found = self._find(req)
        if found is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        issue, state = found
        try:
            start = max(0, int(req.param("startAt") or 0))
            size = min(max(1, int(req.param("maxResults") or 100)), 100)
        except ValueError:
            return _error(400, "The startAt and maxResults parameters must be integers.")
        histories = state.histories  # oldest first on this endpoint
        page = histories[start : start + size]
        url = f"{self._api(req)}/issue/{req.path_params['issueIdOrKey']}/changelog"
        payload: dict[str, Any] = {"self": f"{url}?{urlencode({'startAt': start, 'maxResults': size})}"}
        if start + len(page) < len(histories):
            payload["nextPage"] = f"{url}?{urlencode({'startAt': start + len(page), 'maxResults': size})}"
        payload |= {
            "maxResults": size,
            "startAt": start,
            "total": len(histories),
            "isLast": start + len(page) >= len(histories),
            "values": [self._history(req, ev) for ev in page],
        }
        return json_response(200, payload, CONTENT_TYPE)

    def myself(self, req: Request) -> Response:
        return json_response(
            200,
            {
                "self": f"{self._api(req)}/user?accountId={self.myself_id}",
                "accountId": self.myself_id,
                "accountType": "atlassian",
                "emailAddress": self.creds.jira_email,
                "avatarUrls": self._avatars(req, "user", self.myself_id),
                "displayName": "opskpi integration",
                "active": True,
                "timeZone": self.data.user_time_zone,
                "locale": "en_US",
                "groups": {"size": 1, "items": []},
                "applicationRoles": {"size": 1, "items": []},
                "expand": "groups,applicationRoles",
            },
            CONTENT_TYPE,
        )

    def server_info(self, req: Request) -> Response:
        return json_response(
            200,
            {
                "baseUrl": req.base,
                "displayUrl": req.base,
                "version": "1001.0.0-SNAPSHOT",
                "versionNumbers": [1001, 0, 0],
                "deploymentType": "Cloud",
                "buildNumber": 100290,
                "buildDate": self._ts(self.world.window.start_ms),
                "serverTime": self._ts(req.now_ms),
                "scmInfo": hex_id(40, self.world.seed, "jira-scm"),
                "serverTitle": "Acme Jira",
                "defaultLocale": {"locale": "en_US"},
                "serverTimeZone": "Etc/UTC",
            },
            CONTENT_TYPE,
        )

    def fields(self, req: Request) -> Response:
        clause = {
            "issuetype": ["issuetype", "type"],
            "resolutiondate": ["resolutiondate", "resolved"],
            "fixVersions": ["fixVersion"],
        }
        return json_response(
            200,
            [
                {
                    "id": fid,
                    "key": fid,
                    "name": name,
                    "custom": False,
                    "orderable": fid not in ("created", "updated"),
                    "navigable": navigable,
                    "searchable": True,
                    "clauseNames": clause.get(fid, [fid]),
                    "schema": {"type": schema, "system": fid},
                }
                for fid, name, schema, navigable in FIELDS
            ],
            CONTENT_TYPE,
        )

    def projects(self, req: Request) -> Response:
        return json_response(200, [self._project(req, p.key) for p in self.data.projects], CONTENT_TYPE)

    def project_search(self, req: Request) -> Response:
        """`GET /project/search`: offset pages (`startAt`, `maxResults` ≤ 50), filtered by `keys` and `query`."""
        try:
            start = max(0, int(req.param("startAt") or 0))
            size = min(max(1, int(req.param("maxResults") or 50)), 50)
        except ValueError:
            return _error(400, "The startAt and maxResults parameters must be integers.")
        wanted = {k.strip().upper() for part in req.params("keys") for k in part.split(",") if k.strip()}
        query = (req.param("query") or "").strip().lower()
        found = [
            p
            for p in sorted(self.data.projects, key=lambda p: p.key)
            if (not wanted or p.key in wanted) and (query in p.key.lower() or query in p.name.lower())
        ]
        page = found[start : start + size]
        url = f"{self._api(req)}/project/search"
        extra = [("keys", k) for k in sorted(wanted)] + ([("query", query)] if query else [])
        payload: dict[str, Any] = {"self": f"{url}?{urlencode([('startAt', start), ('maxResults', size), *extra])}"}
        if start + len(page) < len(found):
            payload["nextPage"] = f"{url}?{urlencode([('startAt', start + len(page)), ('maxResults', size), *extra])}"
        payload |= {
            "maxResults": size,
            "startAt": start,
            "total": len(found),
            "isLast": start + len(page) >= len(found),
            "values": [
                {**self._project(req, p.key), "isPrivate": False, "style": "classic", "properties": {}}
                for p in page
            ],
        }
        return json_response(200, payload, CONTENT_TYPE)

    def statuses(self, req: Request) -> Response:
        """`GET /status`: every workflow status with its current name and its category (a plain list)."""
        return json_response(200, [self._status(req, sid) for sid in STATUSES], CONTENT_TYPE)

    def status(self, req: Request) -> Response:
        ident = req.path_params["idOrName"].lower()
        for sid in STATUSES:
            if ident in (sid, self.data.status_name(sid, req.now_ms).lower()):
                return json_response(200, self._status(req, sid), CONTENT_TYPE)
        return _error(404, f"The status with id '{req.path_params['idOrName']}' does not exist.")

    def project(self, req: Request) -> Response:
        ident = req.path_params["projectIdOrKey"]
        for p in self.data.projects:
            if ident in (p.id, p.key) or ident.upper() == p.key:
                return json_response(200, self._project(req, p.key), CONTENT_TYPE)
        return _error(404, "No project could be found with key '" + ident + "'.")


_UPDATED = ("updated", "updateddate")
_CREATED = ("created", "createddate")


def _created_lower_bound(node: Any, ctx: jql.Context) -> int | None:
    """The earliest creation time an issue matching `node` can have (None: no bound), from `updated`/`created`
    lower bounds joined by AND/OR: an issue updated at t was created after t - MAX_ISSUE_LIFETIME."""
    if isinstance(node, jql.Clause):
        name = node.field.lower()
        if node.op not in (">", ">=") or name not in _UPDATED + _CREATED or not isinstance(node.operand, jql.Value):
            return None
        value = jql.date_value(node.operand, node.field, ctx)
        return value - MAX_ISSUE_LIFETIME if name in _UPDATED else value
    if node.op == "not":
        return None
    bounds = [_created_lower_bound(item, ctx) for item in node.items]
    if node.op == "and":
        known = [b for b in bounds if b is not None]
        return max(known) if known else None
    return None if any(b is None for b in bounds) else min(bounds)  # type: ignore[type-var]


class _LazyRow:
    """Issue n at the clock for JQL evaluation: id, creation, keys and project come from the skeleton; any other
    field builds the issue (bulk scales keep a bounded cache of built issues)."""

    __slots__ = ("data", "n", "now", "_issue", "_state", "issue_view", "state_view")

    def __init__(self, data: JiraData, n: int, now: int) -> None:
        self.data, self.n, self.now = data, n, now
        self._issue: JiraIssue | None = None
        self._state: State | None = None
        self.issue_view = _IssueView(self)
        self.state_view = _StateView(self)

    def issue(self) -> JiraIssue:
        if self._issue is None:
            self._issue = self.data.issues.get(self.n)
        return self._issue

    def state(self) -> State:
        if self._state is None:
            self._state = issue_state(self.issue(), self.now)
        return self._state  # type: ignore[return-value]

    def missing(self) -> bool:
        """True when the issue does not exist yet at the clock (its exact creation is within its jitter)."""
        sk = self.data.skeleton[self.n]
        exact = sk.exact_created_ms
        if exact is not None:
            return exact > self.now
        return sk.created_ms + SECOND > self.now and self.issue().created_ms > self.now


class _IssueView:
    __slots__ = ("_row",)

    def __init__(self, row: _LazyRow) -> None:
        self._row = row

    @property
    def n(self) -> int:
        return self._row.n

    @property
    def id(self) -> str:
        return str(10001 + self._row.n)

    @property
    def keys(self) -> tuple[str, ...]:
        sk = self._row.data.skeleton[self._row.n]
        return (sk.key, sk.move[3]) if sk.move is not None else ()

    @property
    def created_ms(self) -> int:
        exact = self._row.data.skeleton[self._row.n].exact_created_ms
        return exact if exact is not None else self._row.issue().created_ms

    def __getattr__(self, name: str) -> Any:
        final = self._row.data.final.get(self._row.n)
        if final is not None and name in ("issuetype_id", "reporter", "summary"):
            return getattr(final, name)
        return getattr(self._row.issue(), name)


class _StateView:
    __slots__ = ("_row",)

    def __init__(self, row: _LazyRow) -> None:
        self._row = row

    @property
    def key(self) -> str:
        return self._row.data.skeleton[self._row.n].key_at(self._row.now)

    @property
    def project_key(self) -> str:
        return self.key.rsplit("-", 1)[0]

    @property
    def number(self) -> int:
        return int(self.key.rsplit("-", 1)[1])

    def __getattr__(self, name: str) -> Any:
        final = self._row.data.final.get(self._row.n)
        if final is not None and self._row.now >= final.last_event_ms and name in _FINAL_STATE:
            return getattr(final, name)
        return getattr(self._row.state(), name)


_FINAL_STATE = frozenset({"status_id", "priority_id", "labels", "assignee", "resolution_ms", "updated_ms",
                          "status_change_ms", "comments", "category"})
