"""GitHub repositories: `GET /repos/{owner}/{repo}`, one request (one record) per configured repository.

The workflow-run listing does not say which branch is the repository's default (its `repository` is a minimal
repository without `default_branch`), yet only runs on the default branch are deployments; assuming `main` loses
every deployment of a repository whose default branch is `master`, `trunk` or `develop`. This stream lands each
repository's current record, guarded and merged like every stream, and the staging models take the default
branch from it. The request is conditional: an unchanged repository is a free 304.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from extractors.pagination import PageRequest
from extractors.streams import Column, Partition, Stream, Window


@dataclass
class SinglePage:
    """One request, no pagination."""

    def first(self, request: PageRequest) -> PageRequest:
        return request

    def next(self, request: PageRequest, body: Any, response: requests.Response) -> PageRequest | None:
        return None


def repository_streams(partitions: tuple[Partition, ...], repo_path: Callable[[str], str]) -> tuple[Stream, ...]:
    def requests_for(partition: Partition, window: Window):
        yield PageRequest("GET", repo_path(partition.values["repo"]))

    repositories = Stream(
        source="github",
        name="repositories",
        columns=(
            Column("repo", partition_key="repo"),
            Column("id", kind="integer"),
            Column("full_name"),
            Column("default_branch"),
            Column("updated_at", kind="timestamp"),
        ),
        primary_key=("repo",),
        records_key=None,
        single_record=True,
        paginator=SinglePage,
        requests=requests_for,
        partitions=partitions,
        timestamps=("updated_at",),
        conditional=True,
    )
    return (repositories,)
