"""`deployment_rechecks`: the statuses of loaded deployments that the nightly walk no longer lists, read again by id.

Why: deployments list by creation only, the incremental walk stops below `deployments_lookback`, and GitHub does
not document that a new status moves a deployment's `updatedAt` (the strict emulator does not move it). A status
added later to an older deployment (a late `success`, a `failure` after a rollback) would never be read, and the
DORA figures (deployments, change failure rate) would stay wrong for good.

How: one GraphQL `nodes(ids:)` query per 100 deployments, each with its first 100 statuses (1 point a query),
for the ids opskpi picks before the run (extractors/revisit.py): every deployment to a production environment
(`dora.production_environments`, the ones the DORA figures count) created within `deployments_recheck_window`
(default 31 days: the longest KPI rolling window, 30 days, plus the 1-day lookback) that the walk does not list
again, every night; and a rotating 1/`deployments_recheck_sweep` slice of all the others (default 7), so every
loaded deployment, of any environment, is read again within 7 days. The records are the deployments
(`raw.github__deployment_rechecks`: which deployment was checked when, `checked_at`); their statuses land in
`deployment_statuses`, of which this stream is a second parent, exactly as from the walk (inline, or continued
with `node(id:)` past 100).

A deployment deleted on GitHub answers null with a NOT_FOUND error naming its id: skipped, never a failure.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from extractors.graphql import check_body, dig
from extractors.http import BodyVerdict
from extractors.pagination import PageRequest
from extractors.streams import WINDOW_END, Column, Partition, Revisit, Stream, Window

log = logging.getLogger(__name__)

IDS_PER_QUERY = 100  # GitHub's most ids in one `nodes(ids:)`
DEFAULT_RECHECK_WINDOW = timedelta(days=31)  # the longest KPI rolling window (30 days) + the 1-day lookback
DEFAULT_SWEEP_DAYS = 7

RECHECK_QUERY = """query DeploymentRecheck($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Deployment {
      node_id: id
      id: databaseId
      environment
      created_at: createdAt
      updated_at: updatedAt
      latest_status: latestStatus { state created_at: createdAt }
      statuses(first: 100) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { node_id: id state environment created_at: createdAt updated_at: updatedAt }
      }
    }
  }
  rateLimit { cost remaining resetAt }
}"""


def lookup_check(body: Any) -> BodyVerdict:
    """GitHub's verdict, except that ids that no longer resolve (NOT_FOUND at `nodes.<i>`, a deleted deployment,
    answered null beside the others) are not a failure: the engine skips their null records."""
    errors = body.get("errors") if isinstance(body, dict) else None
    nodes = dig(body, ("data", "nodes"))
    if errors and isinstance(errors, list) and isinstance(nodes, list) and all(
            isinstance(e, dict) and e.get("type") == "NOT_FOUND" and (e.get("path") or [None])[0] == "nodes"
            for e in errors):
        points = dig(body, ("data", "rateLimit", "cost"))
        log.warning("deployment_rechecks: %d deployment(s) no longer exist on GitHub (deleted): skipped",
                    len(errors))
        return BodyVerdict(points=points if isinstance(points, int) else 0)
    return check_body(body)


@dataclasses.dataclass
class NodesLookup:
    """A `nodes(ids:)` answer has no next page: the ids are batched beforehand, `page_size` to a query. After a
    timeout (502/504, or ours) the batch is halved, down to `min_page`, and the ids it no longer carries are
    asked for next, at the smaller size: resending the same 100 ids would time out the same way, and dropping
    them would lose their statuses."""

    page_size: int = IDS_PER_QUERY
    min_page: int = 5
    _rest: list[Any] = dataclasses.field(default_factory=list)

    def first(self, request: PageRequest) -> PageRequest:
        return request

    def next(self, request: PageRequest, body: Any, response: Any) -> PageRequest | None:
        if not self._rest:
            return None
        ids, self._rest = self._rest[:self.page_size], self._rest[self.page_size:]
        return dataclasses.replace(request, json_body=_with_ids(request.json_body, ids))

    def shrink(self, json_body: Any) -> Any:
        ids = list(((json_body or {}).get("variables") or {}).get("ids") or ())
        if len(ids) <= self.min_page:
            return None
        self.page_size = max(self.min_page, len(ids) // 2)
        self._rest = ids[self.page_size:] + self._rest
        return _with_ids(json_body, ids[:self.page_size])

    check_body = staticmethod(lookup_check)


def _with_ids(json_body: Any, ids: list[Any]) -> Any:
    return {**json_body, "variables": {**(json_body.get("variables") or {}), "ids": ids}}


def recheck_stream(settings: dict[str, Any], partitions: tuple[Partition, ...], url: str,
                   listed_from: Callable[[Window], datetime | None]) -> Stream:
    """`listed_from`: where the deployments walk stops this run (what it lists again is not rechecked)."""
    recent = timedelta(seconds=int(settings.get("deployments_recheck_window_s",
                                                DEFAULT_RECHECK_WINDOW.total_seconds())))
    sweep = int(settings.get("deployments_recheck_sweep", DEFAULT_SWEEP_DAYS))
    production = settings.get("production_environments")
    nightly = ("environment", frozenset(e.lower() for e in production)) if production else None

    def requests(partition: Partition, window: Window):
        ids = list(window.revisit)
        for start in range(0, len(ids), IDS_PER_QUERY):
            yield PageRequest("POST", url, json_body={"query": RECHECK_QUERY,
                                                      "variables": {"ids": ids[start:start + IDS_PER_QUERY]}})

    return Stream(
        source="github",
        name="deployment_rechecks",
        columns=(
            Column("repo", partition_key="repo"),
            Column("id", kind="integer"),
            Column("created_at", kind="timestamp"),
            # When the deployment's statuses were last read again (the run's end): the newest check wins the merge.
            Column("checked_at", kind="timestamp", partition_key=WINDOW_END),
        ),
        primary_key=("repo", "id"),
        cursor="checked_at",
        records_key="data.nodes",
        paginator=NodesLookup,
        requests=requests,
        partitions=partitions,
        timestamps=("created_at", "checked_at"),
        ordered=(("created_at", "checked_at"),),
        revisit=Revisit(of="deployments", id_path="node_id", created="created_at", recent=recent, sweep=sweep,
                        listed_from=listed_from, nightly=nightly),
    )


def with_recheck(deployment_statuses: Stream, recheck: Stream) -> Stream:
    """The statuses stream, read for the deployments of the walk and of the recheck alike."""
    return dataclasses.replace(deployment_statuses, parent=(*deployment_statuses.parents, recheck.name))
