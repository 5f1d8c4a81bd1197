"""GitHub's GraphQL API for the streams REST reads one request per record: pull requests with their commits, and
deployments with their statuses (see the shared guide github-graphql.md).

One page of 100 pull requests carries each one's first 100 commits (2 points of GitHub's 5,000 an hour; REST
needs a request per pull request), one page of 100 deployments each one's first 100 statuses (1 point). The
children land from the parent record (`from_parent`) unless the inner connection has a next page: then the child
stream reads that parent's whole list with a query rooted at it (`pullRequest(number:)`, `node(id:)`), so a
pull request with 320 commits or a deployment with 120 statuses is read whole, never cut.

The queries alias fields to the names the REST records used (`created_at: createdAt`, `id: fullDatabaseId`, …)
so the stream columns, guards and staging models read one set of names; what GraphQL shapes differently
(upper-case states, `mergeCommit { sha }`, `labels { nodes }`, a Bot's login without `[bot]`) is absorbed in
staging, which also reads the REST records loaded before.

Deployments sort only by creation (`DeploymentOrderField` has CREATED_AT alone) and default to oldest first, so
the query asks for `direction: DESC` and the walk stops below `deployments_lookback` as the REST stream did. Their
statuses come inline, so each deployment re-listed has its statuses re-read for nothing: a new failure status on a
deployment within the lookback is always seen (a REST 304 on the deployments list used to skip them, and GitHub
does not document that a new status moves the deployment's `updatedAt`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from extractors.graphql import GraphQLPaginator
from extractors.pagination import PageRequest
from extractors.streams import Column, Partition, Stream, Window

GRAPHQL_PATH = "/graphql"
MAX_PAGE = 100

COMMIT_FIELDS = "commit { sha: oid message author { date user { login } } committer { date } }"
STATUS_FIELDS = "node_id: id state environment created_at: createdAt updated_at: updatedAt"

PULLS_QUERY = """query PullRequestsPage($owner: String!, $name: String!, $pageSize: Int!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: $pageSize, after: $cursor, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        node_id: id
        id: fullDatabaseId
        number
        title
        state
        draft: isDraft
        created_at: createdAt
        updated_at: updatedAt
        closed_at: closedAt
        merged_at: mergedAt
        user: author { __typename login }
        base_ref: baseRefName
        head_ref: headRefName
        base_repository: baseRepository { default_branch: defaultBranchRef { name } }
        merge_commit: mergeCommit { sha: oid }
        labels(first: 100) { totalCount nodes { name } }
        commits(first: 100) {
          totalCount
          pageInfo { hasNextPage endCursor }
          nodes { """ + COMMIT_FIELDS + """ }
        }
      }
    }
  }
  rateLimit { cost remaining resetAt }
}"""

PULL_COMMITS_QUERY = """query PullRequestCommits($owner: String!, $name: String!, $number: Int!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      commits(first: 100, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes { """ + COMMIT_FIELDS + """ }
      }
    }
  }
  rateLimit { cost remaining resetAt }
}"""

DEPLOYMENTS_QUERY = """query DeploymentsPage($owner: String!, $name: String!, $pageSize: Int!, $cursor: String,
    $environments: [String!]) {
  repository(owner: $owner, name: $name) {
    deployments(first: $pageSize, after: $cursor, environments: $environments,
                orderBy: {field: CREATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        node_id: id
        id: databaseId
        environment
        original_environment: originalEnvironment
        task
        sha: commitOid
        ref { name }
        creator { login }
        created_at: createdAt
        updated_at: updatedAt
        statuses(first: 100) {
          totalCount
          pageInfo { hasNextPage endCursor }
          nodes { """ + STATUS_FIELDS + """ }
        }
      }
    }
  }
  rateLimit { cost remaining resetAt }
}"""

DEPLOYMENT_STATUSES_QUERY = """query DeploymentStatuses($id: ID!, $cursor: String) {
  node(id: $id) {
    ... on Deployment {
      statuses(first: 100, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes { """ + STATUS_FIELDS + """ }
      }
    }
  }
  rateLimit { cost remaining resetAt }
}"""

QUERIES = {"pulls": PULLS_QUERY, "pull_commits": PULL_COMMITS_QUERY, "deployments": DEPLOYMENTS_QUERY,
           "deployment_statuses": DEPLOYMENT_STATUSES_QUERY}


def _query(url: str, query: str, **variables: Any) -> PageRequest:
    return PageRequest("POST", url, json_body={"query": query, "variables": variables})


def _owner_name(partition: Partition) -> dict[str, str]:
    owner, _, name = partition.values["repo"].partition("/")
    if not owner or not name or "/" in name:
        raise ValueError(f"repository {partition.values['repo']!r} is not of the form owner/name")
    return {"owner": owner, "name": name}


def inline_children(connection: str) -> Callable[[dict[str, Any]], list[dict[str, Any]] | None]:
    """The nodes of a record's inner connection when they are complete (no next page), else None."""

    def take(record: dict[str, Any]) -> list[dict[str, Any]] | None:
        inner = record.get(connection)
        if not isinstance(inner, dict):
            raise TypeError(f"{connection} is {type(inner).__name__}, not a connection")
        if (inner.get("pageInfo") or {}).get("hasNextPage"):
            return None
        nodes = inner.get("nodes")
        if not isinstance(nodes, list):
            raise TypeError(f"{connection}.nodes is {type(nodes).__name__}, not a list")
        return nodes

    return take


def graphql_streams(settings: dict[str, Any], partitions: tuple[Partition, ...], *,
                    stop_pulls: Callable[[dict[str, Any], Window], bool],
                    stop_deployments: Callable[[dict[str, Any], Window], bool],
                    merged_pull_ref: Callable[[dict[str, Any]], dict[str, str] | None]) -> tuple[Stream, ...]:
    page_size = min(MAX_PAGE, int(settings.get("page_size", MAX_PAGE)))
    url = settings.get("graphql_url") or GRAPHQL_PATH
    environments = list(settings.get("deployment_environments") or [])

    def connection_stream(name: str, query: str, connection: tuple[str, ...],
                          variables: Callable[[Partition], dict[str, Any]], *, paged: bool, **declaration: Any):
        """A stream reading one connection of `query`: its nodes are the records; `paged`: the page size is
        `$pageSize` (a top-level list), else fixed in the query (an inner list continued from its parent)."""

        def requests(partition: Partition, window: Window):
            yield _query(url, query, **variables(partition))

        return Stream(source="github", name=name, records_key=".".join(("data", *connection, "nodes")),
                      paginator=lambda: GraphQLPaginator(connection, page_size=page_size if paged else None),
                      requests=requests, partitions=partitions, **declaration)

    pulls = connection_stream(
        "pulls", PULLS_QUERY, ("repository", "pullRequests"), _owner_name, paged=True,
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
        stop_when=stop_pulls,
        timestamps=("created_at", "updated_at", "closed_at", "merged_at"),
        ordered=(("created_at", "merged_at"), ("created_at", "closed_at")),
    )
    pull_commits = connection_stream(
        "pull_commits", PULL_COMMITS_QUERY, ("repository", "pullRequest", "commits"),
        lambda p: {**_owner_name(p), "number": int(p.values["pull_number"])}, paged=False,
        columns=(
            Column("repo", partition_key="repo"),
            Column("pull_number", kind="integer", partition_key="pull_number"),
            Column("sha", "commit.sha"),
            Column("author_date", "commit.author.date", kind="timestamp"),
            Column("committer_date", "commit.committer.date", kind="timestamp"),
            # The pull request's updated_at when its commits were listed: the newest listing of a pull
            # request wins the merge, so commits dropped by a force-push keep an older value (staging drops them).
            Column("pull_updated_at", kind="timestamp", partition_key="pull_updated_at"),
        ),
        primary_key=("repo", "pull_number", "sha"),
        cursor="pull_updated_at",
        timestamps=("author_date", "committer_date", "pull_updated_at"),
        parent="pulls",
        parent_ref=merged_pull_ref,
        from_parent=inline_children("commits"),
        # A pull request with more than 100 commits is read by request only when its `updated_at` moved: a push
        # (or force-push) moves it, and only pushes change its commits.
        parent_version="pull_updated_at",
    )
    deployments = connection_stream(
        "deployments", DEPLOYMENTS_QUERY, ("repository", "deployments"),
        lambda p: {**_owner_name(p), **({"environments": environments} if environments else {})}, paged=True,
        columns=(
            Column("repo", partition_key="repo"),
            Column("id", kind="integer"),
            Column("environment"),
            Column("sha"),
            Column("created_at", kind="timestamp"),
            Column("updated_at", kind="timestamp"),
        ),
        primary_key=("repo", "id"),
        cursor="updated_at",
        stop_when=stop_deployments,
        timestamps=("created_at", "updated_at"),
        ordered=(("created_at", "updated_at"),),
    )
    deployment_statuses = connection_stream(
        "deployment_statuses", DEPLOYMENT_STATUSES_QUERY, ("node", "statuses"),
        lambda p: {"id": p.values["deployment_node_id"]}, paged=False,
        columns=(
            Column("repo", partition_key="repo"),
            Column("deployment_id", kind="integer", partition_key="deployment_id"),
            # GraphQL's DeploymentStatus has no integer id: its key is the global node id (= REST `node_id`, which
            # the REST records loaded before also carry: the raw column is filled from them when it is added).
            Column("node_id"),
            Column("state"),
            Column("environment"),
            Column("created_at", kind="timestamp"),
        ),
        primary_key=("repo", "deployment_id", "node_id"),
        timestamps=("created_at",),
        parent="deployments",
        parent_ref=lambda r: None if r.get("id") is None or not r.get("node_id") else {
            "deployment_id": str(r["id"]), "deployment_node_id": str(r["node_id"])},
        from_parent=inline_children("statuses"),
    )
    return pulls, pull_commits, deployments, deployment_statuses
