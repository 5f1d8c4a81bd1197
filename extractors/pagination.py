"""The three pagination styles of our sources, as small strategy objects.

A paginator only decides what the next request is; the engine sends it and a stream declaration
says where the records are. Every paginator refuses to loop: a token or URL seen twice, or more
pages than `max_pages`, is an error rather than an endless run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import requests


class PaginationError(RuntimeError):
    """The server's paging does not make progress (a repeated token, an endless chain)."""


class OffsetCapReached(PaginationError):
    """The next page would pass the API's offset cap: the caller must narrow the query."""


@dataclass(frozen=True)
class PageRequest:
    method: str
    path: str  # relative to the client's base URL, or an absolute URL taken from a Link header
    params: tuple[tuple[str, str], ...] = ()
    json_body: dict[str, Any] | None = None
    # A walk's own stop rule (record, window) -> bool, instead of the stream's `stop_when` (a second walk of the
    # same list in another order, e.g. the security alerts' oldest-first `state=open` walk).
    stop_when: Callable[[dict[str, Any], Any], bool] | None = field(default=None, compare=False)
    # Send this walk only when the partition's previous walk was cut by its stop rule with pages left unread:
    # when that walk read its list to the end, it saw every record this one could add.
    only_if_cut: bool = field(default=False, compare=False)

    def with_params(self, **updates: Any) -> PageRequest:
        kept = tuple((k, v) for k, v in self.params if k not in updates)
        return replace(self, params=kept + tuple((k, str(v)) for k, v in updates.items()))

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)


class Paginator(Protocol):
    def first(self, request: PageRequest) -> PageRequest: ...

    def next(self, request: PageRequest, body: Any, response: requests.Response) -> PageRequest | None: ...


@dataclass
class TokenPaginator:
    """Jira's enhanced search: `nextPageToken` until `isLast` (either signal ends the walk)."""

    page_size: int = 100
    max_pages: int = 100_000
    _seen: set[str] = field(default_factory=set)
    _pages: int = 0

    def first(self, request: PageRequest) -> PageRequest:
        body = dict(request.json_body or {})
        body["maxResults"] = self.page_size
        body.pop("nextPageToken", None)
        return replace(request, json_body=body)

    def next(self, request: PageRequest, body: Any, response: requests.Response) -> PageRequest | None:
        self._pages += 1
        token = body.get("nextPageToken") if isinstance(body, dict) else None
        if not token or body.get("isLast") is True:
            return None
        if token in self._seen:
            raise PaginationError(f"nextPageToken {token[:40]!r} was returned twice: the server is looping")
        if self._pages >= self.max_pages:
            raise PaginationError(f"more than {self.max_pages} pages: stopping a runaway pagination")
        self._seen.add(token)
        return replace(request, json_body={**(request.json_body or {}), "nextPageToken": token})


@dataclass
class OffsetPaginator:
    """PagerDuty's classic paging: `offset += limit` while `more`, never past `offset + limit > cap`."""

    limit: int = 100
    max_offset: int = 10_000
    records_key: str = ""

    def first(self, request: PageRequest) -> PageRequest:
        return request.with_params(limit=self.limit, offset=0)

    def next(self, request: PageRequest, body: Any, response: requests.Response) -> PageRequest | None:
        if not isinstance(body, dict) or not body.get("more"):
            return None
        total = body.get("total")
        if isinstance(total, int) and total > self.max_offset and int(request.param("offset") or 0) == 0:
            # Asked with total=true: split now instead of paging up to the cap and starting over.
            raise OffsetCapReached(f"{total} records match, more than the offset cap of {self.max_offset}")
        if self.records_key and not body.get(self.records_key):
            raise PaginationError("the server says there is more but returned an empty page")
        offset = int(request.param("offset") or 0) + self.limit
        if offset + self.limit > self.max_offset:
            raise OffsetCapReached(f"offset {offset} + limit {self.limit} would pass the cap of {self.max_offset}")
        return request.with_params(offset=offset)


@dataclass
class LinkHeaderPaginator:
    """GitHub: follow `Link: <…>; rel="next"` exactly as given (never build page URLs ourselves)."""

    per_page: int = 100
    max_pages: int = 100_000
    _seen: set[str] = field(default_factory=set)

    def first(self, request: PageRequest) -> PageRequest:
        return request.with_params(per_page=self.per_page)

    def next(self, request: PageRequest, body: Any, response: requests.Response) -> PageRequest | None:
        nxt = response.links.get("next", {}).get("url")
        if not nxt:
            return None
        if nxt in self._seen:
            raise PaginationError(f"Link rel=next points back to {nxt}: the server is looping")
        if len(self._seen) + 1 >= self.max_pages:
            raise PaginationError(f"more than {self.max_pages} pages: stopping a runaway Link chain")
        self._seen.add(nxt)
        return PageRequest(method=request.method, path=nxt)
