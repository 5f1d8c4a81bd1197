"""GitHub's GraphQL run-time rules that the schema cannot express: pagination bounds, node limit, point cost.

GitHub documents them in "Rate limits and query limits for the GraphQL API": every connection needs `first` or
`last` within 1..100; a call may request at most 500,000 nodes (per connection, the product of the page sizes on
its path); its cost is the number of requests needed to fill every connection (the product of its parents' page
sizes, 1 at the top) divided by 100 and rounded, at least 1. The walk follows fragments where they are spread, so
`... on Deployment { statuses(first: 100) }` under `node(id:)` counts like a direct selection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    value_from_ast,
)

MAX_PAGE = 100
MAX_NODES = 500_000


class QueryRejected(Exception):
    """A query GitHub refuses before running it; `errors` are in GitHub's shape."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(errors[0]["message"])
        self.errors = errors


@dataclass
class Cost:
    requests: int = 0
    nodes: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def points(self) -> int:
        return max(1, round(self.requests / 100))


def _location(node: Any) -> list[dict[str, int]]:
    loc = node.loc
    if loc is None:
        return []
    token = loc.start_token
    return [{"line": token.line, "column": token.column}]


def measure(schema: GraphQLSchema, operation: OperationDefinitionNode,
            fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]) -> Cost:
    """Walk the operation as GitHub does; raise QueryRejected for a missing or out-of-range page size, or too
    many nodes; otherwise return the cost."""
    cost = Cost()
    root = schema.query_type if operation.operation.value == "query" else schema.mutation_type
    _walk(schema, root, operation.selection_set, fragments, variables, 1, [], cost)
    if cost.errors:
        raise QueryRejected(cost.errors)
    if cost.nodes > MAX_NODES:
        raise QueryRejected([{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": (
            f"This query requests up to {cost.nodes:,} possible nodes which exceeds the maximum limit of "
            f"{MAX_NODES:,}.")}])
    return cost


def _walk(schema, parent_type, selection_set: SelectionSetNode | None, fragments, variables, multiplier: int,
          path: list[str], cost: Cost) -> None:
    if selection_set is None or parent_type is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            _field(schema, parent_type, selection, fragments, variables, multiplier, path, cost)
        elif isinstance(selection, InlineFragmentNode):
            target = schema.get_type(selection.type_condition.name.value) if selection.type_condition else None
            _walk(schema, target or parent_type, selection.selection_set, fragments, variables, multiplier, path,
                  cost)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                target = schema.get_type(fragment.type_condition.name.value)
                _walk(schema, target, fragment.selection_set, fragments, variables, multiplier, path, cost)


def _field(schema, parent_type, node: FieldNode, fragments, variables, multiplier, path, cost: Cost) -> None:
    name = node.name.value
    fields = getattr(parent_type, "fields", None) or {}
    definition = fields.get(name)
    if definition is None:  # __typename, or a field the validator already refused
        return
    here = [*path, (node.alias or node.name).value]
    named = get_named_type(definition.type)
    is_connection = named.name.endswith("Connection") and "first" in definition.args and "last" in definition.args
    if is_connection:
        given = {}
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                given[argument.name.value] = value_from_ast(argument.value, definition.args[argument.name.value].type,
                                                            variables)
        sizes = [v for v in given.values() if v is not None]
        if not sizes:
            cost.errors.append({"path": here, "locations": _location(node), "type": "MISSING_PAGINATION_BOUNDARIES",
                                "message": f"You must provide a `first` or `last` value to properly paginate the "
                                           f"`{name}` connection."})
            return
        for key, size in given.items():
            if size is not None and not 1 <= size <= MAX_PAGE:
                cost.errors.append({"path": here, "locations": _location(node), "type": "EXCESSIVE_PAGINATION",
                                    "message": f"Requesting {size} records on the `{name}` connection exceeds the "
                                               f"`{key}` limit of {MAX_PAGE} records."})
                return
        size = max(sizes)
        cost.requests += multiplier
        cost.nodes += multiplier * size
        multiplier *= size
    if isinstance(named, GraphQLObjectType) or hasattr(named, "fields"):
        _walk(schema, named, node.selection_set, fragments, variables, multiplier, here, cost)
