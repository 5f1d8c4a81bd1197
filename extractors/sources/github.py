"""GitHub REST: pull requests per repository.

`/pulls` has no `since`: we read `sort=updated&direction=desc` and stop at the first record older
than the window's start (the watermark minus a lookback, which also absorbs records that move
between pages while we read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from extractors.http import HttpClient
from extractors.pagination import LinkHeaderPaginator, PageRequest
from extractors.sources import Source
from extractors.streams import Column, Partition, Stream, Window, parse_timestamp


def repo_path(repo: str) -> str:
    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name:
        raise ValueError(f"repository {repo!r} is not of the form owner/name")
    return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"


def updated_before_window(record: dict[str, Any], window: Window) -> bool:
    if window.start is None or not record.get("updated_at"):
        return False
    try:
        return parse_timestamp(record["updated_at"]) < window.start
    except ValueError:
        return False  # keep it: the guard will name the bad timestamp


def build(settings: Mapping[str, Any]) -> Source:
    repos = list(settings["repos"])
    per_page = int(settings.get("page_size", 100))

    def client() -> HttpClient:
        return HttpClient(
            settings["base_url"],
            headers={
                "Authorization": f"Bearer {settings['token']}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            secrets=[settings["token"]],
        )

    def pull_requests(partition: Partition, window: Window):
        yield PageRequest(
            "GET", f"{repo_path(partition.values['repo'])}/pulls",
            params=(("state", "all"), ("sort", "updated"), ("direction", "desc")),
        )

    pulls = Stream(
        source="github",
        name="pulls",
        columns=(
            Column("repo", partition_key="repo"),
            Column("number", kind="integer"),
            Column("id", kind="integer"),
            Column("state"),
            Column("created_at", kind="timestamp"),
            Column("updated_at", kind="timestamp"),
            Column("closed_at", kind="timestamp"),
            Column("merged_at", kind="timestamp"),
        ),
        primary_key=("repo", "number"),
        cursor="updated_at",
        records_key=None,
        paginator=lambda: LinkHeaderPaginator(per_page=per_page),
        requests=pull_requests,
        partitions=tuple(Partition(repo, {"repo": repo}) for repo in repos),
        stop_when=updated_before_window,
        timestamps=("created_at", "updated_at", "closed_at", "merged_at"),
        ordered=(("created_at", "merged_at"), ("created_at", "closed_at")),
    )
    return Source("github", client, (pulls,))
