"""GitHub security alert routes: Dependabot, code scanning and secret scanning alerts of a repository.

Reproduced on purpose (docs: source-apis.md §3.2):
- Dependabot alerts page by cursor only: `after` / `before` taken from `Link` (no `last`, no `page`), and a request
  with `page` answers 400 "Pagination using the page parameter is not supported."; `per_page` at most 100;
  `sort=created|updated|epss_percentage`, `direction` (default desc), comma-list `state` and `severity` filters.
- Code scanning alerts page with `page` / `per_page`; `state` (`closed` = fixed or dismissed), `severity`, `sort`,
  `direction`; a repository without code scanning answers 404 "no analysis found".
- Secret scanning alerts page with `page` / `per_page` or, when `after` / `before` is given (an empty `after` starts
  a cursor walk), by cursor; `state`, `resolution`, `sort`, `direction`, `hide_secret`; a repository with secret
  scanning disabled answers 404 "Secret scanning is disabled on this repository.".
- A single Dependabot alert (`GET .../dependabot/alerts/{alert_number}`); a withdrawn one answers 410 Gone (GitHub
  changelog 2026-10-13) and has left every list; before that, while only its advisory is withdrawn, lists show it
  with `security_advisory.withdrawn_at` set (gen_security.py).
- Dependabot advisories are published 1-30 days before their alert, and about one in ten has no patched version
  yet (`first_patched_version` null): what patch compliance's disclosure to patch and open_without_patch read.
Routes exist under `/repos/{owner}/{repo}` and `/repositories/{repo_id}` (where `Link` points).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from emulator.gen_security import (
    PACKAGES,
    RULES,
    SECRET_RESOLUTIONS,
    SECRET_TYPES,
    Alert,
    AlertState,
    advisory_withdrawn_at,
    alert_state,
    build_security,
    enabled,
    is_withdrawn,
)
from emulator.ids import hex_id
from emulator.routing import Request, Response, json_response
from emulator.timefmt import iso_z
from emulator.timeline import Person

DOCS = "https://docs.github.com/rest"
_DEPENDABOT_DOC = f"{DOCS}/dependabot/alerts#list-dependabot-alerts-for-a-repository"
_DEPENDABOT_GET_DOC = f"{DOCS}/dependabot/alerts#get-a-dependabot-alert"
_CODE_DOC = f"{DOCS}/code-scanning/code-scanning#list-code-scanning-alerts-for-a-repository"
_SECRET_DOC = f"{DOCS}/secret-scanning/secret-scanning#list-secret-scanning-alerts-for-a-repository"
# Who dismisses and resolves alerts: rendered as a full SimpleUser (githubkit's models require every user URL).
_ADMIN = Person(index=-3, name="Security Lead", email="", login="security-lead", github_id=58123001,
                jira_account_id="", pagerduty_id="", time_zone="UTC")


def register(api: Any) -> None:
    """Add the three alert lists to a `GitHubApi` (its router, repository lookup and paging)."""
    routes = SecurityRoutes(api)
    for prefix in ("/repos/{owner}/{repo}", "/repositories/{repo_id}"):
        api.router.add("GET", prefix + "/dependabot/alerts", routes.list_dependabot)
        api.router.add("GET", prefix + "/dependabot/alerts/{alert_number}", routes.get_dependabot)
        api.router.add("GET", prefix + "/code-scanning/alerts", routes.list_code_scanning)
        api.router.add("GET", prefix + "/secret-scanning/alerts", routes.list_secret_scanning)


def _error(status: int, message: str, doc: str) -> Response:
    return json_response(status, {"message": message, "documentation_url": doc, "status": str(status)})


def _invalid(name: str, value: str, doc: str) -> Response:
    return _error(422, f"Invalid value '{value}' for parameter '{name}'.", doc)


def encode_cursor(key: int, number: int) -> str:
    return base64.b64encode(f"cursor:v2:{key}:{number}".encode()).decode()


def decode_cursor(text: str) -> tuple[int, int] | None:
    try:
        prefix, version, key, number = base64.b64decode(text.encode(), validate=True).decode().split(":")
        if (prefix, version) != ("cursor", "v2"):
            return None
        return int(key), int(number)
    except (ValueError, UnicodeDecodeError):
        return None


class SecurityRoutes:
    def __init__(self, api: Any) -> None:
        self.api = api
        world = api.world
        profile = world.scale.profile
        self.data = build_security(world.seed, world.window, world.github.repos,
                                   rate_scale=world.scale.security_rate_scale * profile.security_rate,
                                   open_share=profile.security_open_share, fix_time=profile.security_fix_time)

    # --- common -------------------------------------------------------------------------------------------

    def _rows(self, req: Request, tool: str, doc: str, not_enabled: str | None):
        """(repo, [(alert, state)]) for the repository at the clock, or an error response."""
        repo = self.api._find_repo(req)
        if repo is None:
            return None, _error(404, "Not Found", doc)
        if not enabled(repo.name, tool):
            return None, _error(404, not_enabled or "Not Found", doc)
        rows = []
        for alert in self.data.alerts.get((repo.index, tool), ()):
            st = alert_state(alert, req.now_ms)
            if st is not None:
                rows.append((alert, st))
        return repo, rows

    @staticmethod
    def _sorted(req: Request, rows: list, doc: str, sorts: tuple[str, ...]):
        sort = req.param("sort") or "created"
        direction = req.param("direction") or "desc"
        if sort not in sorts:
            return None, _invalid("sort", sort, doc)
        if direction not in ("asc", "desc"):
            return None, _invalid("direction", direction, doc)

        def key(row: tuple[Alert, AlertState]) -> tuple[int, int]:
            alert, st = row
            return (st.updated_ms if sort == "updated" else alert.created_ms), alert.number

        return sorted(rows, key=key, reverse=direction == "desc"), key

    @staticmethod
    def _filter(req: Request, rows: list, name: str, value_of: Callable, allowed: tuple[str, ...], doc: str):
        raw = req.param(name)
        if not raw:
            return rows, None
        wanted = {v.strip() for v in raw.split(",") if v.strip()}
        bad = sorted(wanted - set(allowed))
        if bad:
            return rows, _invalid(name, bad[0], doc)
        return [row for row in rows if value_of(row) & wanted], None

    def _cursor_page(self, req: Request, rows: list, key: Callable, link_path: str, doc: str) -> Response:
        """A cursor page of sorted `rows`: `after` = strictly after the cursor's row, `before` = strictly before."""
        per_page = _per_page(req)
        reverse = (req.param("direction") or "desc") == "desc"
        keys = [key(row) for row in rows]
        after, before = req.param("after"), req.param("before")
        start, end = 0, len(rows)
        if after:
            cur = decode_cursor(after)
            if cur is None:
                return _error(400, "The after cursor is invalid.", doc)
            start = next((i for i, k in enumerate(keys) if (k < cur if reverse else k > cur)), len(rows))
        if before:
            cur = decode_cursor(before)
            if cur is None:
                return _error(400, "The before cursor is invalid.", doc)
            end = next((i for i, k in enumerate(keys) if (k <= cur if reverse else k >= cur)), len(rows))
            start = max(start, end - per_page)
        else:
            end = min(end, start + per_page)
        items = rows[start:end]
        keep = [(k, v) for k, v in req.query if k not in ("after", "before", "page")]

        def url(name: str, value: str) -> str:
            return f"{req.base}{link_path}?{urlencode([*keep, (name, value)])}"

        links = []
        if items and start > 0:
            links.append(f'<{url("before", encode_cursor(*keys[start]))}>; rel="prev"')
        if items and end < len(rows):
            links.append(f'<{url("after", encode_cursor(*keys[end - 1]))}>; rel="next"')
        return json_response(200, [self._render(req, row) for row in items],
                             headers=[("Link", ", ".join(links))] if links else [])

    def _render(self, req: Request, row: tuple[Alert, AlertState]) -> dict[str, Any]:
        alert = row[0]
        render = {"dependabot": self._dependabot, "code_scanning": self._code_scanning,
                  "secret_scanning": self._secret_scanning}[alert.tool]
        return render(req, *row)

    # --- Dependabot ---------------------------------------------------------------------------------------

    def list_dependabot(self, req: Request) -> Response:
        doc = _DEPENDABOT_DOC
        if req.param("page") is not None:
            return _error(400, "Pagination using the page parameter is not supported.", doc)
        for name in ("first", "last"):
            if req.param(name) is not None:
                return _error(400, f"Pagination using the {name} parameter is not supported.", doc)
        repo, rows = self._rows(req, "dependabot", doc, None)
        if repo is None:
            return rows
        rows, bad = self._filter(req, rows, "state", lambda row: {row[1].state},
                                 ("auto_dismissed", "dismissed", "fixed", "open"), doc)
        if bad:
            return bad
        rows, bad = self._filter(req, rows, "severity", lambda row: {row[0].severity},
                                 ("low", "medium", "high", "critical"), doc)
        if bad:
            return bad
        rows, key = self._sorted(req, rows, doc, ("created", "updated", "epss_percentage"))
        if rows is None:
            return key
        return self._cursor_page(req, rows, key, f"/repositories/{repo.id}/dependabot/alerts", doc)

    def get_dependabot(self, req: Request) -> Response:
        """One alert by number. A withdrawn alert answers 410 Gone, not 404, so that a client can tell it from one
        that never existed (GitHub changelog 2026-10-13); an alert not created yet does not exist (404)."""
        doc = _DEPENDABOT_GET_DOC
        repo = self.api._find_repo(req)
        number = req.path_params.get("alert_number", "")
        if repo is None or not number.isdigit():
            return _error(404, "Not Found", doc)
        alert = next((a for a in self.data.alerts.get((repo.index, "dependabot"), ()) if a.number == int(number)),
                     None)
        if alert is None or alert.created_ms > req.now_ms:
            return _error(404, "Not Found", doc)
        if is_withdrawn(alert, req.now_ms):
            return _error(410, "This alert has been withdrawn and is no longer available.", doc)
        return json_response(200, self._dependabot(req, alert, alert_state(alert, req.now_ms)))

    def _dependabot(self, req: Request, alert: Alert, st: AlertState) -> dict[str, Any]:
        repo = self.api.data.repos[alert.repo_index]
        api, web = f"{req.base}/repos/{repo.full_name}", f"{req.base}/web/{repo.full_name}"
        ecosystem, package, manifest = PACKAGES[alert.variant]
        ghsa = "GHSA-" + "-".join(hex_id(4, self.data.seed, "ghsa", alert.repo_index, alert.number, i)
                                  for i in range(3))
        withdrawn = advisory_withdrawn_at(alert, req.now_ms)
        cvss = {"critical": 9.8, "high": 7.5, "medium": 5.3, "low": 3.1}[alert.severity or "medium"]
        package_obj = {"ecosystem": ecosystem, "name": package}
        patched = _has_patch(self.data.seed, alert)
        vulnerability = {"package": package_obj, "severity": alert.severity,
                         "vulnerable_version_range": "< 2.4.1" if patched else "<= 2.4.0",
                         "first_patched_version": {"identifier": "2.4.1"} if patched else None}
        return {
            "number": alert.number,
            "state": st.state,
            "dependency": {"package": package_obj, "manifest_path": manifest, "scope": "runtime",
                           "relationship": "direct"},
            "security_advisory": {
                "ghsa_id": ghsa, "cve_id": None, "summary": f"Vulnerability in {package}",
                "description": f"A vulnerability in {package} {'before 2.4.1' if patched else 'up to 2.4.0'}.",
                "vulnerabilities": [vulnerability],
                "severity": alert.severity,
                "cvss": {"vector_string": None, "score": cvss},
                "cvss_severities": {"cvss_v3": {"vector_string": None, "score": cvss}, "cvss_v4": None},
                "epss": {"percentage": 0.00045, "percentile": "0.16"},
                "cwes": [], "identifiers": [{"type": "GHSA", "value": ghsa}], "references": [],
                "published_at": iso_z(alert.created_ms - _disclosure_lag_ms(self.data.seed, alert)),
                "updated_at": iso_z(withdrawn if withdrawn is not None else alert.created_ms),
                "withdrawn_at": _ts(withdrawn),
            },
            "security_vulnerability": vulnerability,
            "url": f"{api}/dependabot/alerts/{alert.number}",
            "html_url": f"{web}/security/dependabot/{alert.number}",
            "created_at": iso_z(alert.created_ms),
            "updated_at": iso_z(st.updated_ms),
            "dismissed_at": _ts(st.dismissed_ms),
            "dismissed_by": self.api._user(req, _ADMIN) if st.dismissed_ms else None,
            "dismissed_reason": st.detail if st.dismissed_ms else None,
            "dismissed_comment": "Reviewed by the security team" if st.dismissed_ms else None,
            "fixed_at": _ts(st.fixed_ms),
            "auto_dismissed_at": _ts(st.auto_dismissed_ms),
            "assignees": [],
        }

    # --- code scanning ------------------------------------------------------------------------------------

    def list_code_scanning(self, req: Request) -> Response:
        doc = _CODE_DOC
        repo, rows = self._rows(req, "code_scanning", doc, "no analysis found")
        if repo is None:
            return rows
        rows, bad = self._filter(
            req, rows, "state",
            lambda row: {row[1].state} | ({"closed"} if row[1].state in ("fixed", "dismissed") else set()),
            ("open", "closed", "dismissed", "fixed"), doc)
        if bad:
            return bad
        rows, bad = self._filter(req, rows, "severity",
                                 lambda row: {RULES[row[0].variant][3], RULES[row[0].variant][2]},
                                 ("critical", "high", "medium", "low", "warning", "note", "error"), doc)
        if bad:
            return bad
        rows, key = self._sorted(req, rows, doc, ("created", "updated"))
        if rows is None:
            return key
        return self.api._paginate(req, rows, f"/repositories/{repo.id}/code-scanning/alerts",
                                  lambda row: self._render(req, row))

    def _code_scanning(self, req: Request, alert: Alert, st: AlertState) -> dict[str, Any]:
        repo = self.api.data.repos[alert.repo_index]
        api, web = f"{req.base}/repos/{repo.full_name}", f"{req.base}/web/{repo.full_name}"
        rule_id, name, rule_severity, level = RULES[alert.variant]
        state = "dismissed" if st.state == "dismissed" else st.state
        return {
            "number": alert.number,
            "created_at": iso_z(alert.created_ms),
            "updated_at": iso_z(st.updated_ms),
            "url": f"{api}/code-scanning/alerts/{alert.number}",
            "html_url": f"{web}/code-scanning/{alert.number}",
            "instances_url": f"{api}/code-scanning/alerts/{alert.number}/instances",
            "state": state,
            "fixed_at": _ts(st.fixed_ms),
            "dismissed_by": self.api._user(req, _ADMIN) if st.dismissed_ms else None,
            "dismissed_at": _ts(st.dismissed_ms),
            "dismissed_reason": st.detail if st.dismissed_ms else None,
            "dismissed_comment": None,
            "rule": {"id": rule_id, "name": rule_id, "severity": rule_severity, "security_severity_level": level,
                     "description": name, "tags": ["security"] if level else ["maintainability"]},
            "tool": {"name": "CodeQL", "guid": None, "version": "2.19.3"},
            "most_recent_instance": {
                "ref": "refs/heads/main", "analysis_key": ".github/workflows/codeql.yml:analyze",
                "category": ".github/workflows/codeql.yml:analyze", "environment": "{}",
                "state": state, "commit_sha": hex_id(40, self.data.seed, "cs", alert.repo_index, alert.number),
                "message": {"text": name},
                "location": {"path": f"src/module_{alert.number % 17}.py", "start_line": 10 + alert.number % 90,
                             "end_line": 10 + alert.number % 90, "start_column": 5, "end_column": 30},
                "classifications": [],
            },
        }

    # --- secret scanning ----------------------------------------------------------------------------------

    def list_secret_scanning(self, req: Request) -> Response:
        doc = _SECRET_DOC
        repo, rows = self._rows(req, "secret_scanning", doc, "Secret scanning is disabled on this repository.")
        if repo is None:
            return rows
        rows, bad = self._filter(req, rows, "state", lambda row: {"open" if row[1].state == "open" else "resolved"},
                                 ("open", "resolved"), doc)
        if bad:
            return bad
        rows, bad = self._filter(req, rows, "resolution", lambda row: {row[1].detail}, SECRET_RESOLUTIONS, doc)
        if bad:
            return bad
        rows, key = self._sorted(req, rows, doc, ("created", "updated"))
        if rows is None:
            return key
        link = f"/repositories/{repo.id}/secret-scanning/alerts"
        if any(k in ("after", "before") for k, _ in req.query):
            if req.param("page") is not None:
                return _error(400, "Cannot combine cursor and page pagination.", doc)
            return self._cursor_page(req, rows, key, link, doc)
        return self.api._paginate(req, rows, link, lambda row: self._render(req, row))

    def _secret_scanning(self, req: Request, alert: Alert, st: AlertState) -> dict[str, Any]:
        repo = self.api.data.repos[alert.repo_index]
        api, web = f"{req.base}/repos/{repo.full_name}", f"{req.base}/web/{repo.full_name}"
        secret_type, display, prefix = SECRET_TYPES[alert.variant]
        out: dict[str, Any] = {
            "number": alert.number,
            "created_at": iso_z(alert.created_ms),
            "updated_at": iso_z(st.updated_ms),
            "url": f"{api}/secret-scanning/alerts/{alert.number}",
            "html_url": f"{web}/security/secret-scanning/{alert.number}",
            "locations_url": f"{api}/secret-scanning/alerts/{alert.number}/locations",
            "state": "open" if st.state == "open" else "resolved",
            "resolution": st.detail if st.resolved_ms else None,
            "resolved_at": _ts(st.resolved_ms),
            "resolved_by": self.api._user(req, _ADMIN) if st.resolved_ms else None,
            "resolution_comment": None,
            "secret_type": secret_type,
            "secret_type_display_name": display,
            "secret": prefix + hex_id(24, self.data.seed, "secret", alert.repo_index, alert.number),
            "validity": "unknown",
            "publicly_leaked": False,
            "multi_repo": False,
            "push_protection_bypassed": False,
            "push_protection_bypassed_by": None,
            "push_protection_bypassed_at": None,
        }
        if (req.param("hide_secret") or "").lower() == "true":
            del out["secret"]
        return out


def _disclosure_lag_ms(seed: int, alert: Alert) -> int:
    """How long before the alert its advisory was published: 1 to 30 days, stable per alert (a hash, not a draw from
    the alert's random stream, so no other value changes). GitHub alerts on a repository when it starts depending on
    a vulnerable version or when an advisory is published, so the lag varies (community discussion #73218: 10 days)."""
    return (1 + int(hex_id(4, seed, "advisory-published", alert.repo_index, alert.number), 16) % 30) * 86_400_000


def _has_patch(seed: int, alert: Alert) -> bool:
    """About one advisory in ten has no patched version yet (`first_patched_version` null): a hash per alert."""
    return int(hex_id(4, seed, "first-patched", alert.repo_index, alert.number), 16) % 10 != 0


def _ts(ms: int | None) -> str | None:
    return None if ms is None else iso_z(ms)


def _per_page(req: Request) -> int:
    try:
        per_page = int(req.param("per_page") or 30)
    except ValueError:
        per_page = 30
    return 30 if per_page < 1 else min(per_page, 100)

