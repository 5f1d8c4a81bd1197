"""Jira Cloud: issues through the enhanced search (`/rest/api/3/search/jql`).

Incremental by `updated` written as epoch milliseconds: quoted JQL dates are read in the API user's
time zone to the minute and silently skip updates, numbers are absolute.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import requests

from extractors.http import HttpClient
from extractors.pagination import PageRequest, TokenPaginator
from extractors.sources import Source
from extractors.streams import Column, Partition, Stream, Window

# The search answers ids only unless asked: name every field a model reads.
ISSUE_FIELDS = (
    "summary", "status", "issuetype", "priority", "project", "labels",
    "created", "updated", "resolutiondate", "assignee",
)


def jql_string(value: str) -> str:
    """Quote a value for JQL so a project key can never change the query."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def issues_jql(projects: list[str], window: Window) -> str:
    clauses = [f"project in ({', '.join(jql_string(p) for p in projects)})"]
    if window.start is not None:
        clauses.append(f"updated >= {epoch_ms(window.start)}")
    clauses.append(f"updated <= {epoch_ms(window.end)}")
    return " AND ".join(clauses) + " ORDER BY updated ASC, key ASC"


def build(settings: Mapping[str, Any]) -> Source:
    projects = list(settings["projects"])
    page_size = int(settings.get("page_size", 100))

    def client() -> HttpClient:
        return HttpClient(
            settings["base_url"],
            auth=requests.auth.HTTPBasicAuth(settings["email"], settings["token"]),
            headers={"Accept": "application/json"},
            secrets=[settings["token"]],
        )

    def issue_requests(partition: Partition, window: Window):
        yield PageRequest(
            "POST", "/rest/api/3/search/jql",
            json_body={"jql": issues_jql(projects, window), "fields": list(ISSUE_FIELDS)},
        )

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
        records_key="issues",
        paginator=lambda: TokenPaginator(page_size=page_size),
        requests=issue_requests,
        timestamps=("created", "updated", "resolutiondate"),
        ordered=(("created", "resolutiondate"), ("created", "updated")),
    )
    return Source("jira", client, (issues,))
