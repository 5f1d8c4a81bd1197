"""Jira flow computed independently, in plain Python, from what the Jira API returns.

Deliberately written without any of the pipeline's code or SQL: it reads the emulator with plain
`requests` (search pages by `nextPageToken`, every changelog page by `startAt`, `/status`), replays each
issue's status history, and walks calendar days with zoneinfo.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import requests

STATUS_FIELDS = ["created", "updated", "resolutiondate", "status", "issuetype", "project"]


def ts(text: str | None) -> datetime | None:
    """Jira's `2024-01-02T10:11:12.000-0800` (offset without a colon) -> aware UTC datetime."""
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def fetch(base_url: str, auth: tuple[str, str], projects: list[str]) -> dict:
    """Issues, their full changelogs and the status categories, straight from the API."""
    s = requests.Session()
    s.auth = auth
    api = f"{base_url}/rest/api/3"
    categories = {st["id"]: st["statusCategory"]["key"] for st in s.get(f"{api}/status", timeout=30).json()}
    issues, token = [], None
    while True:
        body = {"jql": f"project in ({', '.join(projects)}) ORDER BY key ASC", "fields": STATUS_FIELDS,
                "maxResults": 100, **({"nextPageToken": token} if token else {})}
        page = s.post(f"{api}/search/jql", json=body, timeout=30).json()
        issues += page["issues"]
        if page.get("isLast") or not page.get("nextPageToken"):
            break
        token = page["nextPageToken"]
    changelogs = {}
    for issue in issues:
        entries, start = [], 0
        while True:
            page = s.get(f"{api}/issue/{issue['id']}/changelog", params={"startAt": start, "maxResults": 100},
                         timeout=30).json()
            entries += page["values"]
            if page["isLast"]:
                break
            start += len(page["values"])
        changelogs[issue["id"]] = entries
    return {"issues": issues, "changelogs": changelogs, "categories": categories}


def quantile_cont(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def issue_facts(issue: dict, changelog: list[dict], categories: dict[str, str]) -> dict:
    f = issue["fields"]
    created = ts(f["created"])
    changes = []  # (time, history id, position, from status, to status)
    for entry in changelog:
        for position, item in enumerate(entry["items"]):
            if item["field"] == "status":
                changes.append((ts(entry["created"]), int(entry["id"]), position, item["from"], item["to"]))
    changes.sort()
    initial = changes[0][3] if changes else f["status"]["id"]
    # (when, category entered), the creation first
    timeline = [(created, categories.get(initial))] + [(at, categories.get(to)) for at, _, _, _, to in changes]
    first_in_progress = last_done = None
    reopens, done_entries, previous = 0, [], None
    for at, category in timeline:
        if category == "indeterminate" and previous != "indeterminate" and first_in_progress is None:
            first_in_progress = at
        if category == "done" and previous != "done":
            last_done = at
            done_entries.append(at)
        if previous == "done" and category != "done":
            reopens += 1
        previous = category
    resolved = ts(f["resolutiondate"])
    cycle = None
    if timeline[-1][1] == "done" and first_in_progress is not None:
        cycle = (last_done - first_in_progress).total_seconds()
    return {
        "key": issue["key"], "project": f["project"]["key"], "issue_type": f["issuetype"]["name"],
        "created": created, "resolved": resolved, "first_in_progress": first_in_progress, "last_done": last_done,
        "cycle": cycle, "lead": None if resolved is None else (resolved - created).total_seconds(),
        "reopens": reopens, "done_entries": done_entries, "timeline": timeline,
    }


def category_at(timeline: list[tuple[datetime, str | None]], moment: datetime) -> str | None | bool:
    """The category the issue is in just before `moment` (False: it did not exist yet)."""
    current: str | None | bool = False
    for at, category in timeline:
        if at < moment:
            current = category
    return current


def flow(data: dict, run_date: date, as_of: datetime, project_teams: dict[str, str], timezone: str = "UTC",
         bug_types: tuple[str, ...] = ("bug",)) -> tuple[dict[str, dict], dict[tuple[date, str, str], dict]]:
    """(issues by id, {(day, scope_type, scope_id): row}) for every scope and day up to run_date."""
    tz = ZoneInfo(timezone)
    facts = {i["id"]: issue_facts(i, data["changelogs"][i["id"]], data["categories"]) for i in data["issues"]}
    local = lambda moment: moment.astimezone(tz).date()  # noqa: E731
    scopes_of = {}
    for issue_id, fact in facts.items():
        team = project_teams.get(fact["project"], "unassigned")
        scopes_of[issue_id] = [("org", "org"), ("team", team), ("project", fact["project"])]
    scopes = {s for members in scopes_of.values() for s in members} | {("org", "org")}
    first = min((local(f["created"]) for f in facts.values()), default=run_date)
    rows: dict[tuple[date, str, str], dict] = {}
    day = first
    while day <= run_date:
        nxt = day + timedelta(days=1)
        end = min(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).astimezone(UTC), as_of)
        acc = defaultdict(lambda: {"created": 0, "resolved": 0, "throughput": 0, "wip_end_of_day": 0,
                                   "bug_backlog": 0, "cycle": [], "lead": []})
        for issue_id, fact in facts.items():
            for scope in scopes_of[issue_id]:
                row = acc[scope]
                row["created"] += local(fact["created"]) == day
                if fact["resolved"] is not None and local(fact["resolved"]) == day:
                    row["resolved"] += 1
                    row["lead"].append(fact["lead"])
                row["throughput"] += sum(local(at) == day for at in fact["done_entries"])
                if fact["cycle"] is not None and local(fact["last_done"]) == day:
                    row["cycle"].append(fact["cycle"])
                state = category_at(fact["timeline"], end)
                row["wip_end_of_day"] += state == "indeterminate"
                if state is not False and state != "done" and fact["issue_type"].lower() in bug_types:
                    row["bug_backlog"] += 1
        for scope in scopes:
            row = acc[scope]
            rows[(day, *scope)] = {
                "created": row["created"], "resolved": row["resolved"], "throughput": row["throughput"],
                "wip_end_of_day": row["wip_end_of_day"], "bug_backlog": row["bug_backlog"],
                "cycle_time_s_p50": quantile_cont(row["cycle"], 0.5),
                "cycle_time_s_p85": quantile_cont(row["cycle"], 0.85),
                "lead_time_s_p50": quantile_cont(row["lead"], 0.5),
                "cycle_time_sample_size": len(row["cycle"]), "lead_time_sample_size": len(row["lead"]),
            }
        day = nxt
    return facts, rows
