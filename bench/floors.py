"""The arithmetic of the benchmark: minimum requests, request floors, ratios and targets.

Pure functions only (no I/O), so `tests/unit/test_bench_floors.py` can check them.

Minimum requests (what an ideal client would send to read what the run needed):
- a top-level stream: per partition walked (a repository, a project set), at least one request, else
  ceil(records / the largest page size the API allows);
- a child stream (pull request commits, deployment statuses, issue changelogs): per parent whose children
  had to be requested, ceil(children / largest page); children taken from the parent record cost nothing;
- a stream reading loaded records again by id (deployment rechecks): per partition, ceil(ids / 100), all
  required (`minimum_revisit`).

"Records" are distinct records the run stored as new or changed (a full run: everything in its window; an
incremental run: what changed since the last run), so re-reading unchanged records counts against us.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# The largest page each endpoint we read serves (vendor limits, mirrored by the emulator).
# None: the endpoint answers everything in one response.
API_MAX_PAGE: dict[tuple[str, str], int | None] = {
    ("jira", "issues"): 100,  # enhanced search with fields and changelog: 100 (5000 only for id/key)
    ("jira", "issue_changelogs"): 100,
    ("jira", "projects"): 50,
    ("jira", "statuses"): None,
    ("jira", "versions"): 50,  # /project/{key}/version: its default page (the spec names no maximum)
    ("jira", "issue_ids"): 5000,  # enhanced search asking for ids only
    ("pagerduty", "services"): 100,
    ("pagerduty", "teams"): 100,
    ("pagerduty", "incidents"): 100,
    ("pagerduty", "log_entries"): 100,
    ("pagerduty", "incident_alerts"): 100,
    ("github", "pulls"): 100,
    ("github", "pull_commits"): 100,
    ("github", "deployments"): 100,
    ("github", "deployment_statuses"): 100,
    ("github", "deployment_rechecks"): 100,  # node ids per GraphQL `nodes(ids:)` query
    ("github", "releases"): 100,
    ("github", "workflow_runs"): 100,
}
DEFAULT_MAX_PAGE = {"jira": 100, "pagerduty": 100, "github": 100}

# Concurrent requests allowed per API: the Airflow pools (docker-compose.yml, `opskpi setup`).
POOL_CONCURRENCY = {"jira": 2, "pagerduty": 1, "github": 2}


def max_page(source: str, stream: str) -> int | None:
    return API_MAX_PAGE.get((source, stream), DEFAULT_MAX_PAGE.get(source, 100))


def pages_for(records: int, page: int | None) -> int:
    """Requests needed to read `records` records with pages of `page` (None: one response holds all)."""
    if records < 0:
        raise ValueError("records must be >= 0")
    if records == 0:
        return 0
    return 1 if page is None else math.ceil(records / page)


def minimum_top_level(records_per_partition: Mapping[str, int], walked: Iterable[str], page: int | None) -> int:
    """A top-level stream: every partition walked costs at least one request (to learn it holds nothing)."""
    walked = set(walked) | {p for p, n in records_per_partition.items() if n > 0}
    return sum(max(1, pages_for(records_per_partition.get(p, 0), page)) for p in walked)


def walked_partitions(partitions: Mapping[str, Mapping[str, object]]) -> set[str]:
    """The partitions a run had to ask about, from a batch manifest's `partitions`: those it read pages of, and
    those that answered that the feature is not enabled (`status: not_enabled`, a 404/403 on an `optional` stream).

    The refusal is one required request, not waste: the only other sources of "is this scanner on?" are not open
    to the read-only token a KPI extract uses. GitHub returns a repository's `security_and_analysis` block only to
    "admin permissions for the repository or an owner or security manager for the organization" (REST docs,
    "Get a repository" / "List organization repositories", docs.github.com/rest/repos/repos), and code scanning's
    state is not in it at all; the alert lists themselves are where GitHub documents the answer: 404 "no analysis
    found" / "Secret scanning is disabled on this repository." (source-apis.md §3.3, mirrored by the emulator),
    403 when Advanced Security is off. Nor can a scanner's state be carried over from the last run: it can be
    switched on at any time, and the run must then read its alerts, so every run asks again (the loader keeps no
    watermark for a refused partition). So a refused partition costs exactly one request in any client, and is
    counted as walked (at least one request) like an empty repository."""
    return {p for p, meta in partitions.items()
            if int(meta.get("pages", 0) or 0) > 0 or meta.get("status") == "not_enabled"}


def minimum_child(records_per_parent: Iterable[int], page: int | None) -> int:
    """A child stream: per parent whose children were requested, ceil(children / page)."""
    return sum(pages_for(n, page) for n in records_per_parent)


def minimum_revisit(ids_per_partition: Iterable[int], ids_per_request: int | None) -> int:
    """A stream reading loaded records again by id (GitHub's `deployment_rechecks`): per partition,
    ceil(ids / ids per request). These requests are required although they usually find nothing new: no list
    shows that an old deployment got a status (deployments list by creation; a status moves no `updatedAt`),
    so asking is the only way to know, and the ids asked are the fewest the promised latency allows (every
    deployment of the recheck window each night, 1/N of the older ones: extractors/revisit.py). One request per
    partition, not fewer across partitions, because each partition (a repository) is extracted by its own task."""
    return sum(pages_for(n, ids_per_request) for n in ids_per_partition)


def request_floor_s(minimum_requests: int, latency_ms: float, concurrency: int) -> float:
    """The time the minimum requests take at the added latency with the allowed concurrency, and nothing else."""
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    return minimum_requests * latency_ms / 1000.0 / concurrency


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None:
        return None
    if reference == 0:
        return None if value == 0 else math.inf
    return value / reference


@dataclass(frozen=True)
class Target:
    """`measured / reference` must be at most `limit` (or at least, with `at_least`)."""

    name: str
    limit: float
    at_least: bool = False

    def judge(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        ok = value >= self.limit if self.at_least else value <= self.limit
        return "met" if ok else "MISSED"

    def describe(self) -> str:
        return f"{'≥' if self.at_least else '≤'} {self.limit:g}"


TARGETS = {
    "requests_full": Target("requests / minimum, full run", 1.05),
    "requests_incremental": Target("requests / minimum, incremental run", 1.05),
    "requests_incident_alerts": Target("requests / minimum, PagerDuty incident alerts, incremental run", 1.05),
    "incremental_requests": Target("incremental / full run, requests", 0.10),
    "incremental_wall": Target("incremental / full run, wall time", 0.10),
    "load_vs_duckdb": Target("our merge into raw / DuckDB CTAS over the same Parquet", 2.0),
    "dbt_incremental": Target("dbt incremental build / full build (at large)", 0.25),
    "extract_rss": Target("extract peak RSS, large / medium", 1.2),
    "peer_speedup": Target("dlt (parquet) wall / ours, same streams", 2.0, at_least=True),
    "peer_requests": Target("our requests / dlt's, same streams", 1.0),
}
