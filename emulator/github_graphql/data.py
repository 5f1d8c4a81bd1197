"""The emulated world as GitHub GraphQL objects: plain dicts read by graphql-core's default resolver.

A value that is a function is called with (info, **arguments), which is how connections and lookups take their
arguments; everything else is a plain value. Same data as the REST handlers (emulator/github.py), in GraphQL's
shapes: upper-case enums, `fullDatabaseId` as a string, `ref` null for a deployment made from a SHA, commits
oldest first without the REST API's 250 cap, statuses newest first, deployments oldest first unless ordered.
Cursors are keyset positions (`cursor:v2:` + the sort key, base64), as GitHub's are: a record that moves while a
client pages jumps ahead of the cursor instead of shifting the pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from emulator.gen_github import (
    DEPENDABOT,
    ORG_LOGIN,
    GhDeployment,
    GhPull,
    GhPullState,
    GhRepo,
    deployment_statuses,
    head_sha,
    merge_commit_sha,
    pull_state,
    visible_commits,
)
from emulator.ids import node_id, node_location, sha
from emulator.timefmt import DAY, iso_z
from emulator.timeline import Person


class GitHubGraphQLError(Exception):
    """A field error in GitHub's shape (`type` beside `message`, `path` and `locations`)."""

    def __init__(self, message: str, type_: str | None = None):
        super().__init__(message)
        self.type = type_


def _encode(tag: str, key: Sequence[Any]) -> str:
    return base64.b64encode(("cursor:v2:" + json.dumps([tag, *key], separators=(",", ":"))).encode()).decode()


def _decode(cursor: str, tag: str, which: str) -> tuple:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
        if not text.startswith("cursor:v2:"):
            raise ValueError(cursor)
        found = json.loads(text[len("cursor:v2:"):])
        if not isinstance(found, list) or not found or found[0] != tag:
            raise ValueError(cursor)
        return tuple(found[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise GitHubGraphQLError(f"`{which}` does not appear to be a valid cursor.") from None


def connection(rows: Sequence[Any], key: Callable[[Any], tuple], render: Callable[[Any], dict[str, Any]], tag: str,
               first: int | None = None, last: int | None = None, after: str | None = None,
               before: str | None = None) -> dict[str, Any]:
    """A Relay connection over `rows` sorted ascending by `key` (the rules pass already bounded first/last)."""
    keys = [key(row) for row in rows]
    low = bisect_right(keys, _decode(after, tag, "after")) if after else 0
    high = bisect_left(keys, _decode(before, tag, "before")) if before else len(rows)
    high = max(low, high)
    start, end = low, high
    if first is not None:
        end = min(high, low + first)
    if last is not None:
        start = max(start, end - last)
    chosen = list(range(start, end))
    cursors = [_encode(tag, keys[i]) for i in chosen]
    return {
        "totalCount": len(rows),
        "pageInfo": {"hasNextPage": end < high if first is not None else end < len(rows),
                     "hasPreviousPage": start > low if last is not None else start > 0,
                     "startCursor": cursors[0] if cursors else None,
                     "endCursor": cursors[-1] if cursors else None},
        "nodes": lambda info, **_: [render(rows[i]) for i in chosen],
        "edges": lambda info, **_: [{"cursor": c, "node": render(rows[i])} for c, i in zip(cursors, chosen,
                                                                                         strict=True)],
    }


def _enum(value: Any) -> str:
    return getattr(value, "name", value)


def _order(order_by: dict[str, Any] | None, default_field: str) -> tuple[str, bool]:
    order_by = order_by or {}
    return _enum(order_by.get("field") or default_field), _enum(order_by.get("direction") or "ASC") == "DESC"


def _actor(person: Person | None) -> dict[str, Any] | None:
    if person is None:
        return None
    bot = person is DEPENDABOT
    login = person.login.removesuffix("[bot]") if bot else person.login
    return {"__typename": "Bot" if bot else "User", "login": login,
            "url": f"https://github.com/{'apps/' if bot else ''}{login}"}


class GraphQLWorld:
    """Builds the root value of one request at one moment of the emulated clock."""

    def __init__(self, data: Any, seed: int, now_ms: int):
        self.data, self.seed, self.now_ms = data, seed, now_ms

    # --- root fields -----------------------------------------------------------------------------------------

    def root(self, rate_limit: Callable[..., dict[str, Any]]) -> dict[str, Any]:
        return {"repository": self.repository, "node": self.node, "nodes": self.nodes, "rateLimit": rate_limit}

    def repository(self, info: Any, owner: str, name: str, **_: Any) -> dict[str, Any]:
        repo = self.data.repo_by_name.get(name.lower()) if owner.lower() == ORG_LOGIN else None
        if repo is None:
            raise GitHubGraphQLError(f"Could not resolve to a Repository with the name '{owner}/{name}'.",
                                     "NOT_FOUND")
        return self._repo(repo)

    def node(self, info: Any, id: str) -> dict[str, Any] | None:  # noqa: A002 - GraphQL's argument name
        found = self._resolve(id)
        if found is None:
            raise GitHubGraphQLError(f"Could not resolve to a node with the global id of '{id}'", "NOT_FOUND")
        return found

    def nodes(self, info: Any, ids: list[str]) -> list[dict[str, Any] | GitHubGraphQLError]:
        """One entry per id, in order; an id that does not resolve (a deleted deployment) is null with its own
        NOT_FOUND error at `nodes.<i>`, the others answered beside it, as GitHub does (graphql-core turns an
        exception in a list into that item's error)."""
        out: list[dict[str, Any] | GitHubGraphQLError] = []
        for i in ids:
            found = self._resolve(i)
            out.append(found if found is not None else GitHubGraphQLError(
                f"Could not resolve to a node with the global id of '{i}'", "NOT_FOUND"))
        return out

    def _resolve(self, ident: str) -> dict[str, Any] | None:
        """By the location the id carries (`located_node_id`): one repository's shard, never an index of all."""
        located = node_location(ident, "DE", 2)
        if located is not None:
            dep = self.data.deployment_by_id.get(located[1])
            if dep is None or dep.repo_index != located[0] or dep.created_ms > self.now_ms:
                return None
            return self._deployment(dep)
        located = node_location(ident, "PR", 2)
        if located is None or not 0 <= located[0] < len(self.data.repos):
            return None
        pull = self.data.pull_by_number.get(located)
        if pull is None or pull.created_ms > self.now_ms:
            return None
        return self._pull(self.data.repos[pull.repo_index], pull, pull_state(pull, self.now_ms))

    # --- repository ------------------------------------------------------------------------------------------

    def _repo(self, repo: GhRepo) -> dict[str, Any]:
        branch_oid = sha(self.seed, "base", repo.index, self.now_ms // DAY)
        return {
            "__typename": "Repository",
            "id": node_id("R", repo.id), "databaseId": repo.id, "name": repo.name,
            "nameWithOwner": repo.full_name, "owner": {"__typename": "Organization", "login": ORG_LOGIN},
            "isPrivate": True, "url": f"https://github.com/{repo.full_name}", "createdAt": iso_z(repo.created_ms),
            "defaultBranchRef": {"name": repo.default_branch, "prefix": "refs/heads/",
                                 "target": {"__typename": "Commit", "oid": branch_oid}},
            "pullRequests": lambda info, **args: self._pulls(repo, **args),
            "pullRequest": lambda info, number, **_: self._pull_by_number(repo, number),
            "deployments": lambda info, **args: self._deployments(repo, **args),
        }

    # --- pull requests ---------------------------------------------------------------------------------------

    def _pulls(self, repo: GhRepo, states: list[Any] | None = None, labels: list[str] | None = None,
               headRefName: str | None = None, baseRefName: str | None = None,  # noqa: N803 - GraphQL names
               orderBy: dict[str, Any] | None = None, **page: Any) -> dict[str, Any]:  # noqa: N803
        rows = self.data.views(self.now_ms, repo)
        if states:
            wanted = {_enum(s) for s in states}
            rows = [r for r in rows if self._pull_state(r[1]) in wanted]
        if labels:
            rows = [r for r in rows if set(labels) & set(r[0].labels)]
        if headRefName:
            rows = [r for r in rows if r[0].head_ref == headRefName]
        if baseRefName:
            rows = [r for r in rows if r[0].base_ref == baseRefName]
        field, desc = _order(orderBy, "CREATED_AT")
        sign = -1 if desc else 1
        key: Callable[[Any], tuple] = {
            "CREATED_AT": lambda r: (sign * r[0].created_ms, sign * r[0].number),
            "UPDATED_AT": lambda r: (sign * r[1].updated_ms, sign * r[0].number),
            "COMMENTS": lambda r: (sign * r[0].comments, sign * r[0].number),
        }[field]
        rows = sorted(rows, key=key)
        return connection(rows, key, lambda r: self._pull(repo, r[0], r[1]), f"pr:{field}:{int(desc)}", **page)

    def _pull_by_number(self, repo: GhRepo, number: int) -> dict[str, Any]:
        pull = self.data.pull_by_number.get((repo.index, number))
        if pull is None or pull.created_ms > self.now_ms:
            raise GitHubGraphQLError(f"Could not resolve to a PullRequest with the number of {number}.",
                                     "NOT_FOUND")
        return self._pull(repo, pull, pull_state(pull, self.now_ms))

    @staticmethod
    def _pull_state(st: GhPullState) -> str:
        return "MERGED" if st.merged else ("CLOSED" if st.state == "closed" else "OPEN")

    def _pull(self, repo: GhRepo, pull: GhPull, st: GhPullState) -> dict[str, Any]:
        merge = merge_commit_sha(self.seed, pull, st)
        repo_node = self._repo(repo)
        return {
            "__typename": "PullRequest",
            "id": pull.node_id, "fullDatabaseId": str(pull.id), "databaseId": pull.id, "number": pull.number,
            "title": pull.title, "body": pull.body or "", "state": self._pull_state(st), "isDraft": st.draft,
            "closed": st.state == "closed", "merged": st.merged,
            "createdAt": iso_z(pull.created_ms), "updatedAt": iso_z(st.updated_ms),
            "closedAt": None if st.closed_ms is None else iso_z(st.closed_ms),
            "mergedAt": None if st.merged_ms is None else iso_z(st.merged_ms),
            "baseRefName": pull.base_ref, "headRefName": pull.head_ref,
            "baseRefOid": sha(self.seed, "base", pull.repo_index, pull.created_ms // DAY),
            "headRefOid": head_sha(self.seed, pull, st),
            "mergeCommit": {"__typename": "Commit", "oid": merge} if st.merged else None,
            "potentialMergeCommit": None if st.state == "closed" else {"__typename": "Commit", "oid": merge},
            "author": _actor(pull.author),
            "mergedBy": _actor(pull.merged_by) if st.merged else None,
            "additions": pull.additions, "deletions": pull.deletions, "changedFiles": pull.changed_files,
            "url": f"https://github.com/{repo.full_name}/pull/{pull.number}",
            "repository": repo_node, "baseRepository": repo_node,
            "headRepository": None if pull.head_repo_deleted else repo_node,
            "labels": lambda info, orderBy=None, **page: connection(  # noqa: N803
                sorted(pull.labels), lambda name: (name,), lambda name: {"__typename": "Label", "name": name},
                "label", **page),
            "commits": lambda info, **page: self._commits(pull, **page),
        }

    def _commits(self, pull: GhPull, **page: Any) -> dict[str, Any]:
        every = self.data.commits(pull)
        position = {c.sha: i for i, c in enumerate(every)}
        rows = visible_commits(every, self.now_ms)

        def render(commit: Any) -> dict[str, Any]:
            person = commit.author
            user = {"login": person.login} if commit.author_linked else None
            email = (f"{person.login.split('[')[0]}@users.noreply.github.com" if person is DEPENDABOT
                     else person.email)
            return {
                "__typename": "PullRequestCommit",
                "id": node_id("PURC", pull.id, commit.sha),
                "url": f"https://github.com/pull/{pull.number}/commits/{commit.sha}",
                "commit": {
                    "__typename": "Commit", "id": node_id("C", commit.sha), "oid": commit.sha,
                    "message": commit.message, "messageHeadline": commit.message.split("\n", 1)[0],
                    "authoredDate": iso_z(commit.authored_ms), "committedDate": iso_z(commit.committed_ms),
                    "author": {"name": person.name, "email": email, "date": iso_z(commit.authored_ms), "user": user},
                    "committer": {"name": person.name, "email": email, "date": iso_z(commit.committed_ms),
                                  "user": user},
                },
            }

        return connection(rows, lambda c: (position[c.sha],), render, f"commits:{pull.id}", **page)

    # --- deployments -----------------------------------------------------------------------------------------

    def _deployments(self, repo: GhRepo, environments: list[str] | None = None,
                     orderBy: dict[str, Any] | None = None, **page: Any) -> dict[str, Any]:  # noqa: N803
        rows = [d for d in self.data.deployments_by_repo[repo.index] if d.created_ms <= self.now_ms]
        if environments:
            rows = [d for d in rows if d.environment in environments]
        _, desc = _order(orderBy, "CREATED_AT")  # CREATED_AT is DeploymentOrderField's only value; default ASC
        sign = -1 if desc else 1

        def key(d: GhDeployment) -> tuple:
            return (sign * d.created_ms, sign * d.id)

        rows.sort(key=key)
        return connection(rows, key, self._deployment, f"deployments:{int(desc)}", **page)

    _DEPLOYMENT_STATE = {"success": "ACTIVE", "inactive": "INACTIVE", "failure": "FAILURE", "error": "ERROR",
                         "in_progress": "IN_PROGRESS", "queued": "QUEUED", "pending": "PENDING"}

    def _deployment(self, dep: GhDeployment) -> dict[str, Any]:
        statuses = sorted(deployment_statuses(dep, self.now_ms), key=lambda s: (-s[1], -s[0]))
        by_ref = dep.ref and dep.ref != dep.sha
        node = {
            "__typename": "Deployment",
            "id": dep.node_id, "databaseId": dep.id, "task": "deploy",
            "environment": dep.environment, "latestEnvironment": dep.environment,
            "originalEnvironment": dep.environment, "description": dep.description,
            # Not moved by a new status: GitHub documents no such thing, so the extractor must not rely on it.
            "createdAt": iso_z(dep.created_ms), "updatedAt": iso_z(dep.created_ms),
            "commitOid": dep.sha, "commit": {"__typename": "Commit", "oid": dep.sha},
            "ref": {"name": dep.ref, "prefix": "refs/heads/"} if by_ref else None,
            "creator": _actor(dep.creator),
            "state": self._DEPLOYMENT_STATE.get(statuses[0][2], "PENDING") if statuses else "PENDING",
        }
        render = lambda s: self._status(dep, node, s)  # noqa: E731
        node["latestStatus"] = render(statuses[0]) if statuses else None
        node["statuses"] = lambda info, **page: connection(statuses, lambda s: (-s[1], -s[0]), render,
                                                           f"statuses:{dep.id}", **page)
        return node

    @staticmethod
    def _status(dep: GhDeployment, deployment: dict[str, Any], row: tuple[int, int, str]) -> dict[str, Any]:
        status_id, at, state = row
        return {
            "__typename": "DeploymentStatus",
            "id": node_id("DES", status_id), "state": state.upper(), "environment": dep.environment,
            "description": "", "createdAt": iso_z(at), "updatedAt": iso_z(at),
            "logUrl": f"https://deploy.acme.example/{dep.id}/log", "creator": _actor(dep.creator),
            "deployment": deployment,
        }
