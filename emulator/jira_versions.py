"""Jira Cloud REST v3 project versions: `GET /project/{projectIdOrKey}/version` (paged) and `.../versions` (all).

At least as strict as Jira (Cloud platform OpenAPI, "Get project versions paginated"; the data comes from
emulator/gen_jira_versions.py):
- `projectIdOrKey` is case sensitive: the project's key or id as they are, else 404 in Jira's error shape, as for a
  project the user may not see. A project without a release train has no versions: an empty page.
- `PageBeanVersion`: `self`, `nextPage` (while more remain), `maxResults`, `startAt`, `total`, `isLast`, `values`.
  `maxResults` defaults to 50 and is cut to 50 (the documented default; the spec names no maximum, so the emulator
  answers no more than the default and a client must read `maxResults`/`isLast` back instead of trusting its ask).
  `startAt`/`maxResults` that are not integers are a 400.
- `orderBy`: `sequence` (the default, the UI's order), `name`, `releaseDate` (versions without one last),
  `startDate` (none has one here: all last, in sequence order) and `description`, each with `+`/`-`; anything else
  is a 400. `status`: a comma list of `released`, `unreleased`, `archived` (an unknown value is a 400);
  `query`: versions whose name or description contains it (case insensitive).
The non-paged `/versions` (the `jira` SDK's `project_versions`) answers the whole list in the default order.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from emulator.gen_jira_versions import FixVersion, project_versions
from emulator.routing import Request, Response, json_response

PAGE_MAX = 50
_ORDERS = ("sequence", "name", "releaseDate", "startDate", "description")
_STATUSES = ("released", "unreleased", "archived")


def _error(status: int, message: str, content_type: str) -> Response:
    return json_response(status, {"errorMessages": [message], "errors": {}}, content_type)


def _versions(api: Any, req: Request) -> tuple[list[dict[str, Any]], Response | None]:
    """The project's versions rendered at the clock, in sequence order, or the 404 Jira gives."""
    ident = req.path_params["projectIdOrKey"]
    project = next((p for p in api.data.projects if ident in (p.id, p.key)), None)
    if project is None:
        return [], _error(404, f"No project could be found with key '{ident}'.", api.content_type)
    base = api.api_base(req)
    found: list[FixVersion] = project_versions(project.key, api.world.window.start_ms, req.now_ms)
    return [v.render_version(base, req.now_ms, project.id) for v in found], None


def _ordered(items: list[dict[str, Any]], order: str) -> list[dict[str, Any]]:
    descending = order.startswith("-")
    name = order.lstrip("+-")
    if name == "sequence":
        return list(reversed(items)) if descending else items
    present = [v for v in items if v.get(name) is not None]
    missing = [v for v in items if v.get(name) is None]  # listed last either way
    present.sort(key=lambda v: str(v[name]).lower() if name in ("name", "description") else str(v[name]),
                 reverse=descending)
    return present + missing


def project_versions_paged(api: Any, req: Request) -> Response:
    items, refused = _versions(api, req)
    if refused is not None:
        return refused
    try:
        start = max(0, int(req.param("startAt") or 0))
        size = min(max(1, int(req.param("maxResults") or PAGE_MAX)), PAGE_MAX)
    except ValueError:
        return _error(400, "The startAt and maxResults parameters must be integers.", api.content_type)
    order = req.param("orderBy") or "sequence"
    if order.lstrip("+-") not in _ORDERS or order.count("+") + order.count("-") > 1:
        return _error(400, f"Invalid orderBy value: '{order}'.", api.content_type)
    statuses = {s.strip() for part in req.params("status") for s in part.split(",") if s.strip()}
    if statuses - set(_STATUSES):
        return _error(400, f"Invalid status value: '{sorted(statuses - set(_STATUSES))[0]}'.", api.content_type)
    query = (req.param("query") or "").strip().lower()
    if statuses:
        items = [v for v in items if ("archived" if v["archived"] else
                                      "released" if v["released"] else "unreleased") in statuses]
    if query:
        items = [v for v in items if query in v["name"].lower() or query in v["description"].lower()]
    items = _ordered(items, order)
    page = items[start:start + size]
    url = f"{api.api_base(req)}/project/{req.path_params['projectIdOrKey']}/version"
    kept = [(k, v) for k, v in req.query if k not in ("startAt", "maxResults")]
    payload: dict[str, Any] = {"self": f"{url}?{urlencode([('startAt', start), ('maxResults', size), *kept])}"}
    if start + len(page) < len(items):
        payload["nextPage"] = f"{url}?{urlencode([('startAt', start + len(page)), ('maxResults', size), *kept])}"
    payload |= {"maxResults": size, "startAt": start, "total": len(items),
                "isLast": start + len(page) >= len(items), "values": page}
    return json_response(200, payload, api.content_type)


def project_versions_all(api: Any, req: Request) -> Response:
    items, refused = _versions(api, req)
    return refused if refused is not None else json_response(200, items, api.content_type)
