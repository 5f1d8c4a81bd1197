"""Availability and incident response computed independently, in plain Python, from what the APIs return.

Deliberately written without any of the pipeline's code or SQL: it reads the emulator with plain
`requests`, merges intervals with a sort and a sweep, and walks calendar days with zoneinfo.
"""

from __future__ import annotations

import re
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


ACKNOWLEDGE_TYPES = ("acknowledge_log_entry", "acknowledgement_log_entry")


def quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (what `quantile_cont` and numpy's default do)."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def _stats(values: list[float]) -> dict:
    return {"mean": sum(values) / len(values) if values else None, "p50": quantile(values, 0.5),
            "p90": quantile(values, 0.9), "n": len(values)}


def incident_response(services: list[dict], incidents: list[dict], log_entries: dict[str, list[dict]],
                      run_date: date, as_of: datetime, timezone: str = "UTC") -> dict[tuple[str, str, date], dict]:
    """{(scope_type, scope_id, day): counts and MTTA/MTTR statistics} for each service and the org, every day.

    TTA runs to the first acknowledge log entry at or before `as_of`; TTR to the incident's (last)
    resolution if that is at or before `as_of`. MTTA belongs to the day of creation, MTTR to the day of
    resolution; both over incidents of every urgency.
    """
    tz = ZoneInfo(timezone)
    visible = [i for i in incidents if ts(i["created_at"]) < as_of]
    facts = []
    for incident in visible:
        created = ts(incident["created_at"])
        acks = sorted(ts(e["created_at"]) for e in log_entries.get(incident["id"], [])
                      if e["type"] in ACKNOWLEDGE_TYPES and ts(e["created_at"]) <= as_of)
        resolved = ts(incident.get("resolved_at"))
        resolved = resolved if resolved is not None and resolved <= as_of else None
        facts.append({"service": incident["service"]["id"], "created": created, "resolved": resolved,
                      "tta": (acks[0] - created).total_seconds() if acks else None,
                      "ttr": (resolved - created).total_seconds() if resolved else None})
    scopes = {("service", s["id"]) for s in services} | {("service", f["service"]) for f in facts} | {("org", "org")}
    first_day = min((f["created"].astimezone(tz).date() for f in facts), default=run_date)
    result = {}
    day = first_day
    while day <= run_date:
        lo, hi = day_bounds(day, tz)
        end = min(hi, as_of)
        for scope_type, scope_id in scopes:
            mine = [f for f in facts if scope_type == "org" or f["service"] == scope_id]
            created = [f for f in mine if lo <= f["created"] < hi]
            resolved = [f for f in mine if f["resolved"] is not None and lo <= f["resolved"] < hi]
            result[(scope_type, scope_id, day)] = {
                "incidents_created": len(created),
                "incidents_resolved": len(resolved),
                "open_at_end_of_day": sum(1 for f in mine if f["created"] < end
                                          and (f["resolved"] is None or f["resolved"] >= end)),
                "mtta": _stats([f["tta"] for f in created if f["tta"] is not None]),
                "mttr": _stats([f["ttr"] for f in resolved]),
            }
        day += timedelta(days=1)
    return result


_OFFSET_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}(:?\d{2})?)$")


def detection(incidents: list[dict], alerts: dict[str, list[dict]], as_of: datetime,
              max_skew_s: float = 300.0) -> dict[str, tuple[str, float | None]]:
    """Time to detect per incident created by as_of (docs/metrics.md): (status, delay in s or None), from the
    incidents and their alerts as the API shows them (`body.cef_details.creation_time` with an offset)."""
    created = {i["id"]: ts(i["created_at"]) for i in incidents if ts(i["created_at"]) <= as_of}
    merged_into = {i["id"]: i["resolve_reason"]["incident"]["id"] for i in incidents
                   if i["id"] in created and (i.get("resolve_reason") or {}).get("type") == "merge_resolve_reason"
                   and ts(i["resolved_at"]) <= as_of}
    out: dict[str, tuple[str, float | None]] = {}
    for incident in incidents:
        iid = incident["id"]
        if iid not in created:
            continue
        if iid in merged_into:
            out[iid] = ("merged", None)
            continue
        detected = min([created[iid]] + [created[s] for s, t in merged_into.items() if t == iid])
        held = [a for a in alerts.get(iid, []) if ts(a["created_at"]) <= as_of and not a.get("suppressed")]
        stamps = []
        for alert in held:
            stamp = ((alert.get("body") or {}).get("cef_details") or {}).get("creation_time")
            if isinstance(stamp, str) and _OFFSET_STAMP.match(stamp):
                stamps.append(datetime.fromisoformat(stamp.replace("Z", "+00:00").replace(" ", "T")))
        if not held:
            out[iid] = ("no_alerts" if incident["alert_counts"]["all"] == 0 else "alerts_not_loaded", None)
        elif not stamps:
            out[iid] = ("no_stamp", None)
        else:
            skew = (min(stamps) - detected).total_seconds()
            if skew > max_skew_s:
                out[iid] = ("invalid_stamp", None)
            elif skew > 0:
                out[iid] = ("clamped", 0.0)
            else:
                out[iid] = ("measured", -skew)
    return out
