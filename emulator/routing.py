"""Transport-independent request/response types and the path-template router.

The HTTP server only converts bytes to `Request` and `Response` to bytes; everything else is plain function
calls, so handlers are testable without sockets and the stats can key on path templates
(`GET /repos/{owner}/{repo}/pulls`) rather than raw paths.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

JSON_UTF8 = "application/json; charset=utf-8"


@dataclass
class Request:
    method: str
    path: str  # below the API prefix, e.g. /repos/acme/api/pulls
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    origin: str  # scheme://host[:port] as the client addressed us
    prefix: str  # /github, /jira, /pagerduty
    now_ms: int
    path_params: dict[str, str] = field(default_factory=dict)
    auth: Any = None  # set by the API's authenticator

    @property
    def base(self) -> str:
        """Absolute base URL of this API on the emulator, for every URL put in a payload or header."""
        return self.origin + self.prefix

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def param(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return default

    def params(self, name: str) -> list[str]:
        return [value for key, value in self.query if key == name]

    def json_body(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body.strip() else {}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def dump_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON in insertion order: stable bytes for the same data, like the real APIs send."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(
    status: int, payload: Any, content_type: str = JSON_UTF8, headers: list[tuple[str, str]] | None = None
) -> Response:
    return Response(status, dump_json(payload), [("Content-Type", content_type), *(headers or [])])


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    anonymous: bool


class Router:
    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, anonymous: bool = False) -> None:
        regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template))
        self._routes.append(Route(method, template, re.compile(f"^{regex}$"), handler, anonymous))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None
