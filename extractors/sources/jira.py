"""Jira Cloud: issues with their full changelogs, projects, statuses, release versions, and a periodic id
reconciliation.

Incremental by `updated` written as epoch milliseconds: quoted JQL dates are read in the API user's
time zone to the minute and silently skip updates, numbers are absolute.

- `issues`: `POST /rest/api/3/search/jql` with the fields the models read and `expand=changelog`, one
  partition per project (its own JQL and watermark): the DAG reads the projects in parallel, and a project added to
  the config later reads its own history whole instead of starting at the other projects' watermark.
- `issue_changelogs` (child of `issues`): one row per changelog entry. The search embeds at most the
  newest ~20 entries; when its `total` says more exist, `GET /rest/api/3/issue/{id}/changelog` is paged
  (oldest first) for that issue; otherwise the embedded entries land as they are, without a request.
- `projects` (`GET /rest/api/3/project/search`) and `statuses` (`GET /rest/api/3/status`: status id →
  status category; a renamed status keeps its id).
- `versions` (`GET /rest/api/3/project/{key}/version`, a partition per project): the versions of each release-
  based project (`lead_time_e2e.release_projects` that are configured projects), whole at every run. Releasing a
  version does not change the `updated` of its issues, so the copy embedded in an issue's `fixVersions` stays as
  it was when the issue was last read; this stream is where a version's `released` and `releaseDate` come from. A
  project has a few versions a fortnight (a page or two), and a version can be released, re-dated or un-released
  at any time with nothing to filter on (the endpoint has no `updated`), so every run reads them all.
- `issue_ids`: the reconciliation. Deleted issues never appear in an `updated` query, so every
  `reconcile_every` the ids of all issues of the projects are listed (`fields=id`, up to 5000 a page),
  each stamped with the end of the window it was read in (`reconciled_at`). An issue id missing from the
  newest reconciliation is gone (deleted, or moved out of the configured projects).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests

from extractors.http import HttpClient
from extractors.pagination import PageRequest, PaginationError, TokenPaginator
from extractors.sources import Source
from extractors.streams import WINDOW_END, Column, Partition, Stream, Window

# The search answers ids only unless asked: name every field a model reads.
ISSUE_FIELDS = (
    "summary", "status", "issuetype", "priority", "project", "labels",
    "created", "updated", "resolutiondate", "assignee",
    # end-to-end lead time: a resolution like Won't Do leaves the sample; release-based projects deliver by version
    "resolution", "fixVersions",
)
CHANGELOG_PAGE = 100  # the most `/issue/{id}/changelog` returns per page
PROJECT_PAGE = 50  # the most `/project/search` returns per page, and the most keys it takes at once
VERSION_PAGE = 50  # `/project/{key}/version`'s default page; the spec names no maximum, so ask no more
RECONCILE_PAGE = 5000  # the enhanced search allows 5000 per page when only ids are asked for
DEFAULT_RECONCILE_EVERY_S = 7 * 86400


def jql_string(value: str) -> str:
    """Quote a value for JQL so a project key can never change the query."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def projects_clause(projects: list[str]) -> str:
    return f"project in ({', '.join(jql_string(p) for p in projects)})"


def issues_jql(projects: list[str], window: Window) -> str:
    """Issues updated since the window's start, up to the present, not to the window's end (the run's as_of): an
    issue updated after a backfilled day still existed on it, and the models replay its state at as_of from its
    changelog. Bounded by the run's as_of, a backfill would drop every issue touched since (docs/operations.md)."""
    clauses = [projects_clause(projects)]
    if window.start is not None:
        clauses.append(f"updated >= {epoch_ms(window.start)}")
    return " AND ".join(clauses) + " ORDER BY updated ASC, key ASC"


def complete_embedded_changelog(issue: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The issue's embedded changelog entries when they are all there; None when the search cut them."""
    changelog = issue.get("changelog")
    if not isinstance(changelog, dict):
        return None
    histories = changelog.get("histories")
    total = changelog.get("total")
    if not isinstance(histories, list) or not isinstance(total, int) or int(changelog.get("startAt") or 0) != 0:
        return None
    return histories if len(histories) >= total else None


def reconciliation_due(window: Window, every: timedelta) -> bool:
    """The window starts at the last reconciliation's read (its watermark) minus the lookback, or at the
    history start when there was none: a window at least `every` long means one is due."""
    return window.start is None or window.end - window.start >= every


@dataclass
class JiraPagePaginator:
    """Jira's offset pages (`startAt`/`maxResults`/`total`/`isLast`): `startAt` moves by the entries received
    (the server may send fewer than asked) until `isLast`, or `total` when `isLast` is missing."""

    page_size: int = 100
    records_key: str = "values"
    max_pages: int = 100_000
    _pages: int = 0
    _seen: set[int] = field(default_factory=set)

    def first(self, request: PageRequest) -> PageRequest:
        return request.with_params(startAt=0, maxResults=self.page_size)

    def next(self, request: PageRequest, body: Any, response: requests.Response) -> PageRequest | None:
        if not isinstance(body, dict):
            return None
        values = body.get(self.records_key) or []
        start = int(body.get("startAt", request.param("startAt") or 0))
        total = body.get("total")
        is_last = body.get("isLast")
        if is_last is True or (is_last is None and (not isinstance(total, int) or start + len(values) >= total)):
            return None
        if not values:
            raise PaginationError("the server says there is more but returned an empty page")
        following = start + len(values)
        if following in self._seen:
            raise PaginationError(f"startAt {following} was requested twice: the server is looping")
        self._pages += 1
        if self._pages >= self.max_pages:
            raise PaginationError(f"more than {self.max_pages} pages: stopping a runaway pagination")
        self._seen.add(following)
        return request.with_params(startAt=following, maxResults=self.page_size)


class SinglePage:
    """An endpoint that answers everything at once (`GET /status`)."""

    def first(self, request: PageRequest) -> PageRequest:
        return request

    def next(self, request: PageRequest, body: Any, response: requests.Response) -> PageRequest | None:
        return None


def build(settings: Mapping[str, Any]) -> Source:
    projects = list(settings["projects"])
    release_projects = [p for p in settings.get("release_projects", ()) if p in projects]
    page_size = int(settings.get("page_size", 100))
    reconcile_every = timedelta(seconds=int(settings.get("reconcile_every_s", DEFAULT_RECONCILE_EVERY_S)))

    def client() -> HttpClient:
        return HttpClient(
            settings["base_url"],
            auth=requests.auth.HTTPBasicAuth(settings["email"], settings["token"]),
            headers={"Accept": "application/json"},
            secrets=[settings["token"]],
            **HttpClient.options(settings),
        )

    def issue_requests(partition: Partition, window: Window):
        yield PageRequest(
            "POST", "/rest/api/3/search/jql",
            json_body={"jql": issues_jql([partition.id], window), "fields": list(ISSUE_FIELDS),
                       "expand": "changelog"},
        )

    def changelog_requests(partition: Partition, window: Window):
        # By id: a moved issue's key changes, its id does not.
        yield PageRequest("GET", f"/rest/api/3/issue/{partition.values['issue_id']}/changelog")

    def project_requests(partition: Partition, window: Window):
        for i in range(0, len(projects), PROJECT_PAGE):
            yield PageRequest("GET", "/rest/api/3/project/search",
                              params=tuple(("keys", key) for key in projects[i:i + PROJECT_PAGE]))

    def version_requests(partition: Partition, window: Window):
        # In creation order (the default, named): a version created while the pages are read lands after them.
        yield PageRequest("GET", f"/rest/api/3/project/{partition.id}/version", params=(("orderBy", "sequence"),))

    def status_requests(partition: Partition, window: Window):
        yield PageRequest("GET", "/rest/api/3/status")

    def reconcile_requests(partition: Partition, window: Window):
        if not reconciliation_due(window, reconcile_every):
            return
        # Ordered by creation: a move between pages cannot shift an issue past the walk.
        yield PageRequest("POST", "/rest/api/3/search/jql",
                          json_body={"jql": projects_clause(projects) + " ORDER BY created ASC", "fields": ["id"]})

    project_partitions = tuple(Partition(key) for key in projects)
    issues = Stream(
        source="jira",
        name="issues",
        columns=(
            Column("id"),
            Column("key"),
            Column("project_key", "fields.project.key"),
            Column("created", "fields.created", "timestamp"),
            Column("updated", "fields.updated", "timestamp"),
            Column("resolutiondate", "fields.resolutiondate", "timestamp"),
        ),
        primary_key=("id",),
        cursor="updated",
        partitions=project_partitions,
        # Read unpartitioned before: a project whose issues are loaded resumes from that watermark.
        partition_column="project_key",
        records_key="issues",
        paginator=lambda: TokenPaginator(page_size=page_size),
        requests=issue_requests,
        timestamps=("created", "updated", "resolutiondate"),
        ordered=(("created", "resolutiondate"), ("created", "updated")),
    )
    issue_changelogs = Stream(
        source="jira",
        name="issue_changelogs",
        columns=(
            Column("issue_id", partition_key="issue_id"),
            Column("id"),
            Column("created", kind="timestamp"),
        ),
        primary_key=("issue_id", "id"),
        partitions=project_partitions,  # read in the task of its issues' project
        records_key="values",
        paginator=lambda: JiraPagePaginator(page_size=CHANGELOG_PAGE, records_key="values"),
        requests=changelog_requests,
        parent="issues",
        parent_ref=lambda issue: {"issue_id": str(issue["id"])} if issue.get("id") else None,
        from_parent=complete_embedded_changelog,
        timestamps=("created",),
    )
    project_stream = Stream(
        source="jira",
        name="projects",
        columns=(Column("id"), Column("key"), Column("name")),
        primary_key=("id",),
        records_key="values",
        paginator=lambda: JiraPagePaginator(page_size=PROJECT_PAGE, records_key="values"),
        requests=project_requests,
    )
    statuses = Stream(
        source="jira",
        name="statuses",
        columns=(Column("id"), Column("name"), Column("category", "statusCategory.key")),
        primary_key=("id",),
        records_key=None,
        paginator=SinglePage,
        requests=status_requests,
    )
    versions = Stream(
        source="jira",
        name="versions",
        columns=(Column("id"), Column("project_id", "projectId"), Column("name"), Column("released"),
                 Column("release_date", "releaseDate")),
        primary_key=("id",),
        # in the task of its project; a release project is a configured project, so the partition exists
        partitions=tuple(Partition(key) for key in release_projects),
        records_key="values",
        paginator=lambda: JiraPagePaginator(page_size=VERSION_PAGE, records_key="values"),
        requests=version_requests,
    )
    issue_ids = Stream(
        source="jira",
        name="issue_ids",
        columns=(Column("id"), Column("reconciled_at", kind="timestamp", partition_key=WINDOW_END)),
        primary_key=("id",),
        cursor="reconciled_at",
        records_key="issues",
        paginator=lambda: TokenPaginator(page_size=RECONCILE_PAGE),
        requests=reconcile_requests,
        timestamps=("reconciled_at",),
    )
    return Source("jira", client, (issues, issue_changelogs, project_stream, statuses, versions, issue_ids))
