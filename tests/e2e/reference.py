"""Availability computed independently, in plain Python, from what the APIs return.

Deliberately written without any of the pipeline's code or SQL: it reads the emulator with plain
`requests`, merges intervals with a sort and a sweep, and walks calendar days with zoneinfo.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import requests


def ts(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def pagerduty_all(base_url: str, token: str, path: str, key: str, params: dict | None = None) -> list[dict]:
    out, offset = [], 0
    while True:
        response = requests.get(f"{base_url}{path}", headers={"Authorization": f"Token token={token}"},
                                params={**(params or {}), "limit": 100, "offset": offset}, timeout=30)
        response.raise_for_status()
        body = response.json()
        out += body[key]
        if not body["more"]:
            return out
        offset += 100


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
    nxt = day + timedelta(days=1)
    return start, datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).astimezone(UTC)


def availability(services: list[dict], incidents: list[dict], run_date: date, as_of: datetime,
                 timezone: str = "UTC", urgencies=("high",)) -> dict[tuple[str, date], dict]:
    """{(service_id, day): {downtime_s, availability_pct, incident_count}} for every service and day."""
    tz = ZoneInfo(timezone)
    visible = [i for i in incidents if ts(i["created_at"]) < as_of]
    service_ids = {s["id"] for s in services} | {i["service"]["id"] for i in visible}
    first_day = min((ts(i["created_at"]).astimezone(tz).date() for i in visible), default=run_date)
    intervals = defaultdict(list)
    counts = defaultdict(int)
    for incident in visible:
        sid = incident["service"]["id"]
        created = ts(incident["created_at"])
        counts[(sid, created.astimezone(tz).date())] += 1
        if incident["urgency"] in urgencies:
            end = min(ts(incident["resolved_at"]) or as_of, as_of)
            if end > created:
                intervals[sid].append((created, end))
    merged = {}
    for sid, spans in intervals.items():
        spans.sort()
        out = [list(spans[0])]
        for start, end in spans[1:]:
            if start <= out[-1][1]:
                out[-1][1] = max(out[-1][1], end)
            else:
                out.append([start, end])
        merged[sid] = out
    result = {}
    day = first_day
    while day <= run_date:
        lo, hi = day_bounds(day, tz)
        length = (hi - lo).total_seconds()
        for sid in service_ids:
            down = sum(max(0.0, (min(e, hi) - max(s, lo)).total_seconds()) for s, e in merged.get(sid, []))
            result[(sid, day)] = {"downtime_s": down, "availability_pct": 100 * (1 - down / length),
                                  "incident_count": counts.get((sid, day), 0)}
        day += timedelta(days=1)
    return result
