"""GraphQL connections as a paginator: `pageInfo { hasNextPage endCursor }` into `$cursor`, and GitHub's errors.

A query pages one connection (at `connection`, a path below `data`) with the variables `$pageSize` and `$cursor`;
inner connections of each node are the stream's business (continued by a child stream rooted at the node). The
page size adapts: a timeout (502/504) or a "resource limits" error halves it, down to `min_page`; after
`grow_after` good pages it doubles again, up to `max_page` (GitHub's timeouts, not its points, limit page sizes).

GitHub answers most failures with HTTP 200 and an `errors` array (`check_body`): `RATE_LIMITED`/`RATE_LIMIT`
waits for the quota's reset; a page with both `data` and `errors` is retried, never landed half; anything else
(a deleted repository's `NOT_FOUND`, a query GitHub refuses) fails naming GitHub's message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import requests

from extractors.http import BodyVerdict
from extractors.pagination import PageRequest, PaginationError

RATE_LIMIT_TYPES = frozenset({"RATE_LIMITED", "RATE_LIMIT"})
_TOO_BIG = ("resource limits", "timeout", "something went wrong")


def dig(body: Any, path: tuple[str, ...]) -> Any:
    node = body
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def check_body(body: Any) -> BodyVerdict:
    """GitHub's GraphQL verdict on a decoded 200 body (see the module docstring)."""
    if not isinstance(body, dict) or ("data" not in body and "errors" not in body):
        return BodyVerdict("the GraphQL answer has neither `data` nor `errors`", retry=True)
    points = dig(body, ("data", "rateLimit", "cost"))
    points = points if isinstance(points, int) else 0
    errors = body.get("errors")
    if not errors:
        if body.get("data") is None:
            return BodyVerdict("the GraphQL answer has no data", retry=True, points=points)
        return BodyVerdict(points=points)
    if not isinstance(errors, list):
        errors = [errors]
    described = "; ".join(_describe(e) for e in errors[:5])
    types = {e.get("type") for e in errors if isinstance(e, dict)}
    if types & RATE_LIMIT_TYPES:
        return BodyVerdict(f"GraphQL rate limit: {described}", retry=True, rate_limited=True, points=points)
    if "NOT_FOUND" in types:
        return BodyVerdict(f"GitHub cannot find it: {described}", points=points)
    if any(word in described.lower() for word in _TOO_BIG):
        return BodyVerdict(f"GraphQL query too big or timed out: {described}", retry=True, shrink=True,
                           points=points)
    if body.get("data") is None:  # refused before running: a query GitHub's schema or rules do not accept
        return BodyVerdict(f"GitHub refused the query: {described}", points=points)
    return BodyVerdict(f"partial GraphQL answer, retrying the page: {described}", retry=True, points=points)


def _describe(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)[:300]
    where = ".".join(str(p) for p in error.get("path") or [])
    kind = error.get("type")
    return (f"{kind}: " if kind else "") + str(error.get("message", ""))[:300] + (f" (at {where})" if where else "")


@dataclass
class GraphQLPaginator:
    """Pages the connection at `data.<connection>` of a query taking `$pageSize` (optional) and `$cursor`."""

    connection: tuple[str, ...]
    page_size: int | None = 100
    max_page: int = 100
    min_page: int = 5
    grow_after: int = 5
    max_pages: int = 100_000
    _good: int = 0
    _seen: set[str] = field(default_factory=set)

    def _with(self, request: PageRequest, **variables: Any) -> PageRequest:
        body = dict(request.json_body or {})
        merged = {**(body.get("variables") or {}), **variables}
        if self.page_size is not None:
            merged["pageSize"] = self.page_size
        body["variables"] = merged
        return replace(request, json_body=body)

    def first(self, request: PageRequest) -> PageRequest:
        return self._with(request, cursor=None)

    def next(self, request: PageRequest, body: Any, response: requests.Response) -> PageRequest | None:
        page = dig(body, ("data", *self.connection))
        if not isinstance(page, dict):
            raise PaginationError(f"no connection at data.{'.'.join(self.connection)} in the GraphQL answer")
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return None
        cursor = info.get("endCursor")
        if not isinstance(cursor, str) or not cursor:
            raise PaginationError("hasNextPage is true but endCursor is empty")
        if cursor in self._seen:
            raise PaginationError(f"endCursor {cursor[:40]!r} was returned twice: the server is looping")
        if len(self._seen) + 1 >= self.max_pages:
            raise PaginationError(f"more than {self.max_pages} pages: stopping a runaway pagination")
        self._seen.add(cursor)
        self._good += 1
        if self.page_size is not None and self._good >= self.grow_after and self.page_size < self.max_page:
            self.page_size, self._good = min(self.max_page, self.page_size * 2), 0
        return self._with(request, cursor=cursor)

    def shrink(self, json_body: Any) -> Any:
        """The same request with half the page (after a timeout), or None when the page is already the smallest."""
        if self.page_size is None or self.page_size <= self.min_page:
            return None
        self.page_size, self._good = max(self.min_page, self.page_size // 2), 0
        variables = {**(json_body.get("variables") or {}), "pageSize": self.page_size}
        return {**json_body, "variables": variables}

    check_body = staticmethod(check_body)
