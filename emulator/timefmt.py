"""Timestamp parsing and the three vendors' rendering styles.

Internally every instant is an integer of epoch milliseconds: cheap to compare, hashable, and free of tz
surprises. Conversion to text happens only at the edge, because each API renders differently (Jira
`.000-0800`, PagerDuty `Z` or `-05:00`, GitHub `Z` with whole seconds) and clients break on exactly those
differences.
"""

from __future__ import annotations

import calendar
import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

UTC = dt.UTC


class TimeFormatError(ValueError):
    """A timestamp or time zone from a client that cannot be read."""


@lru_cache(maxsize=256)
def zone(name: str) -> dt.tzinfo:
    """Resolve an IANA name; `UTC`/`Etc/UTC` map to the fixed UTC zone so `Z` rendering can be detected."""
    if name in ("UTC", "Etc/UTC", "Z", "GMT", "Etc/GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise TimeFormatError(f"unknown time zone {name!r}") from exc


def to_datetime(ms: int, tz: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(tz)


def from_datetime(value: dt.datetime) -> int:
    if value.tzinfo is None:
        raise TimeFormatError("naive datetime")
    return calendar.timegm(value.utctimetuple()) * 1000 + value.microsecond // 1000


def parse_iso(text: str, default_tz: dt.tzinfo = UTC) -> int:
    """Read ISO 8601 (`Z`, `+00:00`, `+0000`, date-only, space separator); naive values use default_tz."""
    raw = (text or "").strip()
    if not raw:
        raise TimeFormatError("empty timestamp")
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise TimeFormatError(f"not an ISO 8601 timestamp: {raw!r}") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=default_tz)
    return from_datetime(value)


def add_months(ms: int, months: int, tz: dt.tzinfo = UTC) -> int:
    """Calendar-month arithmetic in tz (day clamped to month end), as PagerDuty's '+1 month' default needs."""
    local = to_datetime(ms, tz)
    index = local.year * 12 + (local.month - 1) + months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    shifted = local.replace(tzinfo=None).replace(year=year, month=month + 1, day=day)
    return from_datetime(shifted.replace(tzinfo=tz))


def floor_day(ms: int, tz: dt.tzinfo = UTC) -> int:
    local = to_datetime(ms, tz).replace(tzinfo=None)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return from_datetime(midnight.replace(tzinfo=tz))


def iso_z(ms: int) -> str:
    """GitHub / PagerDuty UTC style: `2024-01-06T21:30:42Z` (whole seconds)."""
    return to_datetime(ms).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_in_zone(ms: int, tz: dt.tzinfo) -> str:
    """PagerDuty `time_zone` style: `Z` in UTC, else `2024-01-06T16:30:42-05:00`."""
    if tz is UTC:
        return iso_z(ms)
    return to_datetime(ms, tz).replace(microsecond=0).isoformat()


def jira_timestamp(ms: int, tz: dt.tzinfo) -> str:
    """Jira style: milliseconds and a colon-less offset, `2024-01-02T10:11:12.000-0800`."""
    local = to_datetime(ms, tz)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}" + local.strftime("%z")


def http_date(ms: int) -> str:
    """RFC 7231 `Date` header value."""
    return to_datetime(ms).strftime("%a, %d %b %Y %H:%M:%S GMT")
