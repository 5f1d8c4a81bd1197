"""GitHub's GraphQL API (`POST /graphql`, GHES `POST /api/graphql`), as strict as github.com.

Order per request, as GitHub's: authentication (401) → parse → validation against GitHub's published schema
(`schema.json` of the npm package @octokit/graphql-schema 15.26.1, vendored gzipped beside this file: nothing
downloads at run time) → GitHub's own rules (rules.py: page bounds, node limit, cost) → the points budget (a
query costing more than what is left is refused with `RATE_LIMITED`, nothing run) → execution (lean.py: a lean
walk of the validated query; graphql-core's `execute` whenever errors must be shaped) → rate-limit headers.
Failures are HTTP 200 with an `errors` array, as GitHub sends them; an over-wide query can be made to time out
(502, points still charged) with `timeout_above_nodes`.
"""

from __future__ import annotations

import gzip
import json
import threading
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_client_schema,
    execute,
    parse,
    validate,
)

from emulator.github_graphql.data import GitHubGraphQLError, GraphQLWorld
from emulator.github_graphql.lean import execute_fast
from emulator.github_graphql.rules import QueryRejected, measure
from emulator.ratelimit import RateLimiter
from emulator.routing import Request, Response, json_response
from emulator.timefmt import iso_z

SCHEMA_FILE = Path(__file__).with_name("schema.json.gz")
SCHEMA_PACKAGE = "@octokit/graphql-schema@15.26.1"
SCHEMA_SHA256 = "bbdb03f4006f4e34964d67d55385f1c8c47c4cacd507ccdc38af2544247ecddd"  # of the uncompressed schema.json
PATHS = ("/graphql", "/api/graphql")
POINTS_PER_HOUR = 5000
DOCS = "https://docs.github.com/graphql"
ANSWER_CACHE = 64  # answers kept per endpoint (a page of 100 pull requests is ~120 KB)
_TIMEOUT_MESSAGE = ("Something went wrong while executing your query. This may be the result of a timeout, or it "
                    "could be a GitHub bug. Please include `0000:0000:0000000:0000000:00000000` when reporting this "
                    "issue.")


@cache
def github_schema() -> GraphQLSchema:
    """The published schema. graphql-core 3.3 rejects it on validation (deprecated interface fields), which GitHub
    and graphql-js accept, hence `assume_valid` (see shared guide github-graphql.md §4.2)."""
    return build_client_schema(json.loads(gzip.decompress(SCHEMA_FILE.read_bytes())), assume_valid=True)


@lru_cache(maxsize=256)
def _checked(query: str) -> tuple[Any, list[dict[str, Any]]]:
    """Parse and validate a query once per text (clients send the same few queries again and again)."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, [_format(exc)]
    return document, [_format(e) for e in validate(github_schema(), document)]


def _errors_only(errors: list[dict[str, Any]], headers: list[tuple[str, str]]) -> Response:
    return json_response(200, {"errors": errors}, headers=headers)


def _format(error: GraphQLError) -> dict[str, Any]:
    out: dict[str, Any] = {}
    original = error.original_error
    if isinstance(original, GitHubGraphQLError) and original.type:
        out["type"] = original.type
    if error.path is not None:
        out["path"] = list(error.path)
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    out["message"] = error.message
    return out


class GraphQLEndpoint:
    """Serves GraphQL for one GitHubApi (its world, credentials and secondary limit; its own points bucket)."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.limits = RateLimiter({"graphql": POINTS_PER_HOUR})
        self.rate_limit_type = "RATE_LIMITED"  # GitHub also answers "RATE_LIMIT" with a `code` since 2026-01
        self.timeout_above_nodes: int | None = None  # queries asking for more nodes answer 502 (a timeout)
        self._answers: dict[tuple, dict[str, Any]] = {}
        self._lock = threading.Lock()
        for path in PATHS:
            api.router.add("POST", path, self.handle)
            api.router.add("GET", path, self.handle)

    def forget_answers(self) -> None:
        """The world changed at this moment (a posted deployment status): answers kept for it are stale."""
        with self._lock:
            self._answers.clear()

    def quota(self, now_ms: int):
        return self.limits.peek("graphql", now_ms)

    def handle(self, req: Request) -> Response:
        ident = req.auth
        if not (ident and ident.authenticated):
            return json_response(401, {"message": "This endpoint requires you to be authenticated.",
                                       "documentation_url": f"{DOCS}/guides/forming-calls-with-graphql"
                                                            "#authenticating-with-graphql"})
        headers = self.quota(req.now_ms).headers("graphql")
        try:
            payload = req.json_body() if req.method == "POST" else {"query": req.param("query")}
        except (ValueError, UnicodeDecodeError):
            return json_response(400, {"message": "Problems parsing JSON", "documentation_url": DOCS})
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return json_response(400, {"message": "A query attribute must be specified and must be a string.",
                                       "documentation_url": DOCS})
        variables = payload.get("variables") or {}
        if not isinstance(variables, dict):
            return _errors_only([{"message": "Variables are invalid JSON."}], headers)
        schema = github_schema()
        document, problems = _checked(payload["query"])
        if problems:
            return _errors_only(problems, headers)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        wanted = payload.get("operationName")
        operation = next((o for o in operations if o.name and o.name.value == wanted), None) if wanted else (
            operations[0] if len(operations) == 1 else None)
        if operation is None:
            return _errors_only([{"message": "An operation name is required" if not wanted
                                  else f'No operation named "{wanted}"'}], headers)
        if req.method == "GET" and operation.operation.value != "query":
            return _errors_only([{"message": "Only queries may be sent with GET"}], headers)
        fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
        coerced = self._variables(schema, operation, variables)
        if isinstance(coerced, list):
            return _errors_only(coerced, headers)
        try:
            cost = measure(schema, operation, fragments, coerced)
        except QueryRejected as exc:
            return _errors_only(exc.errors, headers)
        if self.api.secondary.check():  # shared with REST, as GitHub's secondary limits are
            return json_response(self.api.secondary.status, self.api.secondary.body(),
                                 headers=[("retry-after", str(self.api.secondary.retry_after_s)), *headers])
        before = self.quota(req.now_ms)
        if cost.points > before.remaining:
            body: dict[str, Any] = {"type": self.rate_limit_type}
            if self.rate_limit_type == "RATE_LIMIT":
                body["code"] = "graphql_rate_limit"
            body["message"] = "API rate limit exceeded for user ID 1."
            return _errors_only([body], headers)
        dry_run = _dry_run_only(operation)
        after = before if dry_run else self.limits.consume("graphql", req.now_ms, cost.points)
        headers = after.headers("graphql")
        if self.timeout_above_nodes is not None and cost.nodes > self.timeout_above_nodes:
            return json_response(502, {"data": None, "errors": [{"message": _TIMEOUT_MESSAGE}]}, headers=headers)

        def rate_limit(info: Any, dryRun: bool = False) -> dict[str, Any]:  # noqa: N803 - GraphQL's name
            return {"cost": cost.points, "limit": after.limit, "remaining": after.remaining, "used": after.used,
                    "resetAt": iso_z(after.reset_epoch_s * 1000), "nodeCount": cost.nodes}

        key = (payload["query"], json.dumps(variables, sort_keys=True), wanted, req.now_ms)
        body = self._answers.get(key)
        if body is None:
            world = GraphQLWorld(self.api.data, self.api.world.seed, req.now_ms)
            data = execute_fast(schema, operation, fragments, world.root(rate_limit), variables)
            if data is not None:
                body = {"data": data}
            else:  # errors, null propagation, directives: graphql-core's own executor shapes them
                result = execute(schema, document, root_value=world.root(rate_limit), variable_values=variables,
                                 operation_name=wanted)
                body = {"data": result.data}
                if result.errors:
                    body = {"data": result.data, "errors": [_format(e) for e in result.errors]}
            self._remember(key, body, operation)
        else:  # the same query at the same moment: the same data; only the rate limit moved
            body = {**body, "data": _fresh_rate_limit(body["data"], operation, rate_limit(None))}
        return json_response(200, body, headers=headers)

    def _remember(self, key: tuple, body: dict[str, Any], operation: OperationDefinitionNode) -> None:
        """Keep the answer of a query whose top level is plain fields: the world depends only on the clock, so the
        same query at the same moment answers the same (tests that run the pipeline twice read it twice)."""
        if not all(isinstance(s, FieldNode) for s in operation.selection_set.selections):
            return
        with self._lock:
            self._answers[key] = body
            while len(self._answers) > ANSWER_CACHE:
                self._answers.pop(next(iter(self._answers)))

    @staticmethod
    def _variables(schema: GraphQLSchema, operation: OperationDefinitionNode,
                   variables: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
        from graphql.execution.values import get_variable_values

        coerced = get_variable_values(schema, operation.variable_definitions or [], variables)
        if isinstance(coerced, list):
            return [_format(e) for e in coerced]
        return getattr(coerced, "coerced", coerced)  # graphql-core 3.3: VariableValues; 3.2: a dict


def _fresh_rate_limit(data: Any, operation: OperationDefinitionNode, values: dict[str, Any]) -> Any:
    """`data` with every top-level `rateLimit { … }` answered from `values` (the rest is unchanged)."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for field in operation.selection_set.selections:
        if isinstance(field, FieldNode) and field.name.value == "rateLimit":
            chosen = {}
            for sub in field.selection_set.selections if field.selection_set else ():
                name = sub.name.value
                chosen[(sub.alias or sub.name).value] = "RateLimit" if name == "__typename" else values.get(name)
            data[(field.alias or field.name).value] = chosen
    return data


def _dry_run_only(operation: OperationDefinitionNode) -> bool:
    """`{ rateLimit(dryRun: true) { … } }` alone: GitHub computes the cost without charging it."""
    fields = operation.selection_set.selections
    if len(fields) != 1 or getattr(fields[0], "name", None) is None or fields[0].name.value != "rateLimit":
        return False
    return any(a.name.value == "dryRun" and getattr(a.value, "value", False) is True
               for a in fields[0].arguments or ())
