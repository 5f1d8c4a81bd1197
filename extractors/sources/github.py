"""GitHub: pull requests and their commits, deployments and their statuses (GraphQL, github_graphql.py), releases
and workflow runs (REST).

None of these lists has a `since`, so each stream decides how far back a run re-reads:

- `pulls`: `UPDATED_AT DESC`, stop at the first record older than the window's start (the watermark minus the
  lookback, which also absorbs records that move between pages while we read).
- `pull_commits` (child of `pulls`): for every merged pull request, taken from its page (first 100 commits);
  one with more commits is read whole by request, when its `updated_at` differs from the one its loaded commits
  were listed at (meta.child_versions).
- `deployments`: newest first, stop below `deployments_lookback` (default 3 days) or the window's start,
  whichever is earlier; `deployment_statuses` (child) come inside each deployment re-listed, so a status that
  arrives later on a deployment within the re-read span is always read (GitHub does not document that a new
  status moves the deployment's `updated_at`, and we do not rely on it). Older deployments' statuses are read
  again by id (`deployment_rechecks`, github_recheck.py): production ones of the last 31 days every night,
  every other one within 7 days.
- `releases`: newest first like deployments (drafts are published later); the API refuses to page past the
  first 1,000 results, so we stop there instead of asking.
- `workflow_runs`: a `created` window covering `workflow_runs_lookback` (default 30 days, re-runs change runs)
  or the window, whichever is longer, newest first. A filtered query serves only its first 1,000 runs, so after
  1,000 the walk goes on with the window narrowed to end at the oldest run read (that second included: runs
  created in the same second may straddle the cut), which re-reads only that second's runs. Until 2026-12-06 a
  window over the cap was halved (its first page thrown away and re-read) until each half fitted: 1.13x the
  minimum requests at `medium`.

REST lists are read with `If-None-Match` on their first page where the request is the same from run to run
(`releases`): a 304 means nothing changed and costs no rate limit. GraphQL queries are POSTs and cannot be
conditional; an unchanged day costs one page per repository and stream (1-2 points of 5,000 an hour).

A spent hourly quota (REST or GraphQL) is waited for, up to `max_quota_wait_s` (default 65 minutes), measured on
GitHub's clock (extractors/http.py).

Extracting every environment (not only `dora.production_environments`) is deliberate: which environments are
production is a KPI definition, matched case-insensitively in dbt, while the API's `environment` filter is an
exact match and would force a re-extract whenever the definition changes. `deployment_environments` restricts
extraction when staging volume matters.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from extractors.http import HttpClient
from extractors.pagination import LinkHeaderPaginator, OffsetCapReached, PageRequest, PaginationError
from extractors.sources import Source
from extractors.sources.github_graphql import graphql_streams
from extractors.sources.github_recheck import recheck_stream, with_recheck
from extractors.streams import Column, Partition, Stream, Window, parse_timestamp

log = logging.getLogger(__name__)

RESULTS_CAP = 1000  # releases, and workflow runs filtered by `created` (or any other filter)
DEFAULT_MAX_QUOTA_WAIT_S = 65 * 60
MIN_RUNS_SLICE = timedelta(seconds=1)


def repo_path(repo: str) -> str:
    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name:
        raise ValueError(f"repository {repo!r} is not of the form owner/name")
    return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"


def _older_than(record: dict[str, Any], field: str, start: datetime | None) -> bool:
    if start is None or not record.get(field):
        return False
    try:
        return parse_timestamp(record[field]) < start
    except ValueError:
        return False  # keep it: the guard will name the bad timestamp


def updated_before_window(record: dict[str, Any], window: Window) -> bool:
    return _older_than(record, "updated_at", window.start)


def reread_start(window: Window, reread: timedelta) -> datetime | None:
    """The earlier of the window's start and `reread` before its end: what a run must list again."""
    if window.start is None:
        return None
    return min(window.start, window.end - reread)


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def created_range(start: datetime, end: datetime) -> str:
    """`created` in search syntax, both ends inclusive and whole seconds: [start, end - 1 s]."""
    start = start.astimezone(UTC).replace(microsecond=0)
    last = (end.astimezone(UTC) - timedelta(microseconds=1)).replace(microsecond=0)
    return f"{iso_z(start)}..{iso_z(last)}"


def parse_created_range(value: str) -> tuple[datetime, datetime]:
    """Inverse of `created_range`: (start, end) with end exclusive."""
    low, _, high = value.partition("..")
    return parse_timestamp(low), parse_timestamp(high) + timedelta(seconds=1)


def split_runs_request(request: PageRequest) -> list[PageRequest]:
    """Halve a `created` window that matches more runs than one filtered query may return."""
    created = request.param("created")
    if not created or ".." not in created:
        raise PaginationError("a workflow-run query passes the 1,000-results cap and has no created window to split")
    start, end = parse_created_range(created)
    if end - start <= MIN_RUNS_SLICE:
        raise PaginationError(f"more than {RESULTS_CAP} workflow runs created within {created}")
    mid = start + timedelta(seconds=((end - start).total_seconds() // 2))
    return [request.with_params(created=created_range(start, mid)),
            request.with_params(created=created_range(mid, end))]


@dataclass
class CappedLinkPaginator(LinkHeaderPaginator):
    """Link paging for lists that only serve their first `cap` results.

    `created_key` set (workflow runs, whose `created` filter can be narrowed): once `cap` records were read (where
    GitHub's `next` link vanishes, whatever `total_count` says), the next request is the first one again with its
    `created` window ending at the oldest record read, that second included; the list is newest first, so
    everything newer has been read. More than `cap` records created in one second cannot be narrowed further
    (OffsetCapReached, and the stream's `split` gives up naming the second). Otherwise (releases) the walk stops
    quietly once `cap` records were read, instead of following a `next` link the API would answer with an error.
    """

    cap: int = RESULTS_CAP
    records_key: str | None = None
    created_key: str | None = None
    _rows: int = 0
    _origin: PageRequest | None = None
    _oldest: datetime | None = None

    def first(self, request: PageRequest) -> PageRequest:
        self._origin, self._rows, self._oldest = request, 0, None
        return super().first(request)

    def next(self, request: PageRequest, body: Any, response: requests.Response) -> PageRequest | None:
        records = body.get(self.records_key) if self.records_key and isinstance(body, dict) else body
        records = records if isinstance(records, list) else []
        self._rows += len(records)
        more = bool(response.links.get("next"))
        if self.created_key:
            for record in records:
                try:
                    created = parse_timestamp(record[self.created_key])
                except (KeyError, TypeError, ValueError, AttributeError):
                    continue  # landed and flagged by the guard
                self._oldest = created if self._oldest is None else min(self._oldest, created)
            if self._rows < self.cap:
                return super().next(request, body, response)
            return self._narrowed()
        if self._rows >= self.cap and more:
            log.warning("GitHub serves only the first %d results of %s: older ones are not read",
                        self.cap, request.path)
            return None
        return super().next(request, body, response)

    def _narrowed(self) -> PageRequest | None:
        """The first request again, its `created` window ending at the oldest record read (that second included)."""
        origin = self._origin
        created = origin.param("created") if origin is not None else None
        if not created or ".." not in created or self._oldest is None:
            raise OffsetCapReached(f"{self._rows} results read, the most a filtered query returns, and no "
                                   "created window to narrow")
        start, end = parse_created_range(created)
        new_end = self._oldest.replace(microsecond=0) + timedelta(seconds=1)
        if new_end >= end:  # the cap was reached within the window's last second: no progress possible
            raise OffsetCapReached(f"{self._rows} results read within {created}: more may match")
        if new_end <= start:
            return None
        narrowed = origin.with_params(created=created_range(start, new_end))
        log.info("workflow runs: %d read, the cap of a filtered query; going on with created=%s", self._rows,
                 narrowed.param("created"))
        return self.first(narrowed)


def merged_pull_ref(record: dict[str, Any]) -> dict[str, str] | None:
    """Commits are needed for lead time only: pull requests merged into the default branch."""
    if not record.get("merged_at") or record.get("number") is None:
        return None
    default = ((record.get("base_repository") or {}).get("default_branch") or {}).get("name")
    if default and record.get("base_ref") != default:
        return None
    return {"pull_number": str(record["number"]), "pull_updated_at": str(record.get("updated_at") or "")}


def graphql_url(base_url: str) -> str:
    """GitHub's GraphQL endpoint for a REST base URL: `{base}/graphql` (api.github.com, the emulator), or
    `https://HOST/api/graphql` for GitHub Enterprise Server's `https://HOST/api/v3`."""
    base = base_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return base + "/graphql"


def build(settings: Mapping[str, Any]) -> Source:
    repos = list(settings["repos"])
    per_page = int(settings.get("page_size", 100))
    deployments_reread = timedelta(seconds=int(settings.get("deployments_lookback_s", 3 * 86400)))
    runs_reread = timedelta(seconds=int(settings.get("workflow_runs_lookback_s", 30 * 86400)))
    partitions = tuple(Partition(repo, {"repo": repo}) for repo in repos)

    def client() -> HttpClient:
        return HttpClient(
            settings["base_url"],
            headers={
                "Authorization": f"Bearer {settings['token']}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            secrets=[settings["token"]],
            # A spent hourly quota is waited for up to 65 minutes by default (it resets within the hour).
            **HttpClient.options({"max_quota_wait_s": DEFAULT_MAX_QUOTA_WAIT_S, **settings}),
        )

    def link_paginator() -> LinkHeaderPaginator:
        return LinkHeaderPaginator(per_page=per_page)

    # --- pull requests with their commits, deployments with their statuses: GraphQL (github_graphql.py) -------

    pulls, pull_commits, deployments, deployment_statuses = graphql_streams(
        {**settings, "graphql_url": graphql_url(settings["base_url"])}, partitions,
        stop_pulls=updated_before_window,
        stop_deployments=lambda record, window: _older_than(record, "created_at",
                                                            reread_start(window, deployments_reread)),
        merged_pull_ref=merged_pull_ref)
    # Older deployments' statuses, read again by id (github_recheck.py): a late status moves no list.
    deployment_rechecks = recheck_stream(settings, partitions, graphql_url(settings["base_url"]),
                                         listed_from=lambda window: reread_start(window, deployments_reread))
    deployment_statuses = with_recheck(deployment_statuses, deployment_rechecks)

    # --- releases --------------------------------------------------------------------------------------------

    def release_requests(partition: Partition, window: Window):
        yield PageRequest("GET", f"{repo_path(partition.values['repo'])}/releases")

    releases = Stream(
        source="github",
        name="releases",
        columns=(
            Column("repo", partition_key="repo"),
            Column("id", kind="integer"),
            Column("tag_name"),
            Column("created_at", kind="timestamp"),
            Column("published_at", kind="timestamp"),
        ),
        primary_key=("repo", "id"),
        cursor="created_at",
        records_key=None,
        paginator=lambda: CappedLinkPaginator(per_page=per_page, cap=RESULTS_CAP),
        requests=release_requests,
        partitions=partitions,
        stop_when=lambda record, window: _older_than(record, "created_at",
                                                     reread_start(window, deployments_reread)),
        timestamps=("created_at", "published_at"),
        ordered=(("created_at", "published_at"),),
        conditional=True,
    )

    # --- Actions workflow runs ----------------------------------------------------------------------------

    def run_requests(partition: Partition, window: Window):
        start = reread_start(window, runs_reread) or window.end - runs_reread
        if start >= window.end:
            return
        yield PageRequest("GET", f"{repo_path(partition.values['repo'])}/actions/runs",
                          params=(("created", created_range(start, window.end)),))

    workflow_runs = Stream(
        source="github",
        name="workflow_runs",
        columns=(
            Column("repo", partition_key="repo"),
            Column("id", kind="integer"),
            Column("workflow_id", kind="integer"),
            Column("name"),
            Column("event"),
            Column("head_branch"),
            Column("status"),
            Column("conclusion"),
            Column("run_attempt", kind="integer"),
            Column("created_at", kind="timestamp"),
            Column("updated_at", kind="timestamp"),
            Column("run_started_at", kind="timestamp"),
        ),
        primary_key=("repo", "id"),
        cursor="updated_at",
        records_key="workflow_runs",
        paginator=lambda: CappedLinkPaginator(per_page=per_page, cap=RESULTS_CAP, records_key="workflow_runs",
                                              created_key="created_at"),
        requests=run_requests,
        partitions=partitions,
        split=split_runs_request,
        timestamps=("created_at", "updated_at", "run_started_at"),
        ordered=(("created_at", "updated_at"),),
    )
    from extractors.sources.github_repositories import repository_streams  # each repository's default branch
    from extractors.sources.github_security import security_streams  # Dependabot, code and secret scanning alerts
    return Source("github", client, (pulls, pull_commits, deployments, deployment_rechecks, deployment_statuses,
                                     releases, workflow_runs,
                                     *security_streams(settings, partitions, repo_path),
                                     *repository_streams(partitions, repo_path)))
