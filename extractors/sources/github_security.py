"""GitHub security alerts: Dependabot, code scanning and secret scanning, one partition per repository.

None of the three lists has a `since` (source-apis.md §3.3). Each partition sends:

- `sort=updated&direction=desc` over every state, stopping at the first page that reaches an alert updated before
  the window's start (the watermark minus the lookback): picks up new alerts and every state change (fix,
  dismissal, reopen), because a state change moves `updated_at`;
- on a first run or a full refresh only (a window not `resumed` from a watermark), every alert open now, whatever
  its age, so that the whole open backlog the posture is about is read even when it was last updated before
  `history_days`. The first walk keeps the open alerts it meets past the window's start (it stops at the first
  page holding a closed one), so when that walk reaches the end of the list (a repository with a page or two of
  alerts: most of them) it has seen every open alert and nothing more is sent. Only when it was cut with pages
  left does a second walk follow, `state=open&sort=updated&direction=asc`: the open alerts last updated before
  the window, oldest first, stopping at the first one inside the window (the first walk read those). Until
  2026-12-06 the second walk was always sent and re-read every open alert from the start (bench: Dependabot
  1.44x, secret scanning 2.33x the minimum requests on a full run).

A resumed run needs no second walk: an alert open now and updated before the window's start was open, with the
same content, when an earlier run read it (that run's window covered its last update, or its first run's
open-alert walk read it), so it is in raw; whatever changed since moved `updated_at` into this window. Until
2026-11-26 every run sent both walks and open alerts never stopped the first one, which cost ~2x the minimum
requests (bench/results/2026-11-26.md).

Dependabot pages by cursor only (`after` from `Link`; sending `page` answers 400): `LinkHeaderPaginator` follows
`Link` and never builds a page URL, so the same code walks page- and cursor-paged lists. Secret scanning is read
with `hide_secret=true`: the warehouse never stores the leaked secret itself.

`dependabot_open_alerts` is the withdrawal check. GitHub withdraws a Dependabot alert whose advisory is no longer
valid: it leaves every list and its own URL answers 410 Gone (changelog 2026-10-13, "Improved detection for
withdrawn Dependabot alerts"); nothing moves its `updated_at`, so the incremental walk above never sees it go and the
alert would stay open in raw, and in breach, for ever. So every run also walks `state=open` to its end (no stop rule,
no ETag: a 304 would land nothing and read as "no alert open") and stamps each alert it lists with the run's end
(`listed_at`). An alert stored as open that a later *complete* walk of its repository did not list is withdrawn
(int_security__withdrawn_alerts). Complete: the engine lands a batch only when every partition's walk read to its
end (any error aborts the whole batch, nothing is loaded), and the loader records each partition's answer in
meta.stream_coverage; only `ok` partitions of loaded batches count as walks, so a failed, killed or not-enabled walk
never withdraws anything. The check walks before the Dependabot walk: an alert fixed between the two would otherwise
be missing from the open walk while the record read just before still says open; this way the open walk lists it
and the later walk reads the fix (and an alert withdrawn in between is found by the next run's walk). Cost:
ceil(open alerts / 100) requests per repository and run (one for most).

The streams are `optional`: a repository where a scanner is not enabled answers 404 (403 without Advanced Security);
the engine records `not_enabled` for that partition in the batch manifest (kept in meta.stream_coverage, read by
mart_security_coverage) and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from extractors.pagination import LinkHeaderPaginator, PageRequest
from extractors.sources.github import updated_before_window
from extractors.streams import WINDOW_END, Column, Partition, Stream, Window

TIMESTAMP_FIELDS = {
    "dependabot_alerts": ("created_at", "updated_at", "fixed_at", "dismissed_at", "auto_dismissed_at"),
    "code_scanning_alerts": ("created_at", "updated_at", "fixed_at", "dismissed_at"),
    "secret_scanning_alerts": ("created_at", "updated_at", "resolved_at"),
}
PATHS = {
    "dependabot_alerts": "dependabot/alerts",
    "code_scanning_alerts": "code-scanning/alerts",
    "secret_scanning_alerts": "secret-scanning/alerts",
}


def open_backlog_walk_needed(window: Window) -> bool:
    """The `state=open` walk: only when no earlier loaded run read the alerts before the window (see above)."""
    return not window.resumed


def stop_when_before_window(record: dict[str, Any], window: Window) -> bool:
    """The first walk's rule: an alert updated before the window is not wanted, except, on a first run or a full
    refresh, an open one (the open backlog is read whatever its age); the walk ends with the page of the first
    unwanted alert."""
    if record.get("state") == "open" and open_backlog_walk_needed(window):
        return False
    return updated_before_window(record, window)


def stop_when_inside_window(record: dict[str, Any], window: Window) -> bool:
    """The oldest-first open-alert walk's rule: from the first alert updated inside the window on, the first walk
    has read them all."""
    return not updated_before_window(record, window)


def security_streams(settings: Mapping[str, Any], partitions: tuple[Partition, ...],
                     repo_path: Callable[[str], str]) -> tuple[Stream, ...]:
    per_page = int(settings.get("page_size", 100))
    extra = {"secret_scanning_alerts": (("hide_secret", "true"),)}

    def requests_for(name: str):
        def requests(partition: Partition, window: Window):
            path = f"{repo_path(partition.values['repo'])}/{PATHS[name]}"
            yield PageRequest("GET", path, params=(("sort", "updated"), ("direction", "desc"), *extra.get(name, ())))
            if open_backlog_walk_needed(window):
                yield PageRequest("GET", path, params=(("state", "open"), ("sort", "updated"), ("direction", "asc"),
                                                       *extra.get(name, ())),
                                  stop_when=stop_when_inside_window, only_if_cut=True)
        return requests

    lifted = {
        "dependabot_alerts": (
            Column("severity", "security_advisory.severity"),
            Column("package", "dependency.package.name"),
        ),
        "code_scanning_alerts": (
            Column("rule_severity", "rule.severity"),
            Column("security_severity_level", "rule.security_severity_level"),
            Column("tool_name", "tool.name"),
        ),
        "secret_scanning_alerts": (
            Column("resolution"),
            Column("secret_type"),
        ),
    }
    closing = {"dependabot_alerts": ("fixed_at", "dismissed_at", "auto_dismissed_at"),
               "code_scanning_alerts": ("fixed_at", "dismissed_at"),
               "secret_scanning_alerts": ("resolved_at",)}
    streams = []
    for name in ("dependabot_alerts", "code_scanning_alerts", "secret_scanning_alerts"):
        stamps = TIMESTAMP_FIELDS[name]
        streams.append(Stream(
            source="github",
            name=name,
            columns=(
                Column("repo", partition_key="repo"),
                Column("number", kind="integer"),
                Column("state"),
                *lifted[name],
                *(Column(field, kind="timestamp") for field in stamps),
            ),
            primary_key=("repo", "number"),
            cursor="updated_at",
            records_key=None,
            paginator=lambda: LinkHeaderPaginator(per_page=per_page),
            requests=requests_for(name),
            partitions=partitions,
            stop_when=stop_when_before_window,
            timestamps=stamps,
            ordered=(("created_at", "updated_at"), *(("created_at", field) for field in closing[name])),
            conditional=True,
            optional=True,
        ))
    # first: see the module docstring (the withdrawal check runs before the Dependabot walk)
    streams.insert(0, Stream(
        source="github",
        name="dependabot_open_alerts",
        columns=(
            Column("repo", partition_key="repo"),
            Column("number", kind="integer"),
            Column("state"),
            Column("listed_at", kind="timestamp", partition_key=WINDOW_END),
        ),
        primary_key=("repo", "number"),
        cursor="listed_at",
        records_key=None,
        paginator=lambda: LinkHeaderPaginator(per_page=per_page),
        requests=open_walk_requests(repo_path),
        partitions=partitions,
        timestamps=("listed_at",),
        optional=True,
    ))
    return tuple(streams)


def open_walk_requests(repo_path: Callable[[str], str]):
    """The withdrawal check's one walk per repository: every open Dependabot alert, whatever the window."""
    def requests(partition: Partition, window: Window):
        yield PageRequest("GET", f"{repo_path(partition.values['repo'])}/{PATHS['dependabot_alerts']}",
                          params=(("state", "open"), ("sort", "created"), ("direction", "asc")))
    return requests
