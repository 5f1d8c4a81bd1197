"""GitHub security alerts: Dependabot, code scanning and secret scanning, one partition per repository.

None of the three lists has a `since`. Each partition sends two walks (source-apis.md §3.3):

- `sort=updated&direction=desc` over every state, stopping at the first alert updated before the window's start
  (the watermark minus the lookback): picks up new alerts and every state change (fix, dismissal, reopen), because
  a state change moves `updated_at`;
- `state=open`, read to the end: every alert open now, whatever its age, so that a first run (whose window is
  `history_days`) and any missed update still see the whole open backlog the posture is about. Open alerts never
  stop a walk; the loader keeps one row per alert.

Dependabot pages by cursor only (`after` from `Link`; sending `page` answers 400): `LinkHeaderPaginator` follows
`Link` and never builds a page URL, so the same code walks page- and cursor-paged lists. Secret scanning is read
with `hide_secret=true`: the warehouse never stores the leaked secret itself.

The streams are `optional`: a repository where a scanner is not enabled answers 404 (403 without Advanced Security);
the engine records `not_enabled` for that partition in the batch manifest (kept in meta.stream_coverage, read by
mart_security_coverage) and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from extractors.pagination import LinkHeaderPaginator, PageRequest
from extractors.streams import Column, Partition, Stream, Window

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


def stop_when_closed_before_window(record: dict[str, Any], window: Window) -> bool:
    """Stop an updated-descending walk at the first *closed* alert updated before the window: open ones never stop
    it (the `state=open` walk reads them all anyway)."""
    from extractors.sources.github import updated_before_window

    return record.get("state") != "open" and updated_before_window(record, window)


def security_streams(settings: Mapping[str, Any], partitions: tuple[Partition, ...],
                     repo_path: Callable[[str], str]) -> tuple[Stream, ...]:
    per_page = int(settings.get("page_size", 100))
    extra = {"secret_scanning_alerts": (("hide_secret", "true"),)}

    def requests_for(name: str):
        def requests(partition: Partition, window: Window):
            path = f"{repo_path(partition.values['repo'])}/{PATHS[name]}"
            yield PageRequest("GET", path, params=(("sort", "updated"), ("direction", "desc"), *extra.get(name, ())))
            yield PageRequest("GET", path, params=(("state", "open"), ("sort", "created"), ("direction", "asc"),
                                                   *extra.get(name, ())))
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
            stop_when=stop_when_closed_before_window,
            timestamps=stamps,
            ordered=(("created_at", "updated_at"), *(("created_at", field) for field in closing[name])),
            conditional=True,
            optional=True,
        ))
    return tuple(streams)
