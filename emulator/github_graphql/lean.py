"""A lean executor for the emulator's GraphQL answers, with graphql-core's `execute` as the referee.

graphql-core's `execute` is general (resolver middleware, awaitables, per-field `ResolveInfo`, path tracking,
result completion through several layers) and spent ~54 ms of CPU on a page of 100 pull requests (~5,500
fields), which made the emulator, not the extractor, the bottleneck of a GitHub extract. The world here is plain
dicts whose callables take (info, **arguments), already validated against GitHub's schema before it runs, so the
answer is a direct walk of the selection set: for each field, the dict's value (called with the field's
arguments, coerced by graphql-core's own `get_argument_values`, when it is a function), completed by the field's
type (lists, objects resolved by `__typename`, leaves serialized by the schema's scalar or enum type).

Anything off that well-trodden path returns None and the caller runs graphql-core instead, whose answer is then
the one sent: a resolver error (GitHub's `NOT_FOUND` and friends, whose `errors` entries and null propagation
graphql-core shapes), a null where the schema says non-null, `@skip`/`@include`, or a response key selected
twice (field merging). tests/unit/test_emulator_github_graphql.py checks both give the same answer.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.execution.values import get_argument_values, get_variable_values


class _Fallback(Exception):
    """Leave this request to graphql-core."""


def execute_fast(schema: GraphQLSchema, operation: OperationDefinitionNode,
                 fragments: dict[str, FragmentDefinitionNode], root: dict[str, Any],
                 variables: dict[str, Any]) -> dict[str, Any] | None:
    """`data` of the operation over `root` with the raw `variables`, or None when graphql-core must answer."""
    if operation.operation.value != "query":
        return None
    try:
        coerced = get_variable_values(schema, operation.variable_definitions or [], variables)
        if isinstance(coerced, list):  # bad variables: graphql-core words the errors
            return None
        return _Walker(schema, fragments, coerced).selection(schema.query_type, root, operation.selection_set)
    except _Fallback:
        return None
    except Exception:  # noqa: BLE001 - a resolver's error: graphql-core reports it in GitHub's shape
        return None


class _Walker:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: Any):
        self.schema, self.fragments, self.variables = schema, fragments, variables

    def selection(self, type_: GraphQLObjectType, source: Any, selection_set: SelectionSetNode) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self._collect(type_, source, selection_set, out)
        return out

    def _collect(self, type_: GraphQLObjectType, source: Any, selection_set: SelectionSetNode,
                 out: dict[str, Any]) -> None:
        for node in selection_set.selections:
            if node.directives:
                raise _Fallback
            if isinstance(node, FieldNode):
                key = (node.alias or node.name).value
                if key in out:
                    raise _Fallback  # field merging: graphql-core's business
                out[key] = self._field(type_, source, node)
            elif isinstance(node, InlineFragmentNode):
                if node.type_condition is None or self._matches(node.type_condition.name.value, type_):
                    self._collect(type_, source, node.selection_set, out)
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments.get(node.name.value)
                if fragment is None:
                    raise _Fallback
                if self._matches(fragment.type_condition.name.value, type_):
                    self._collect(type_, source, fragment.selection_set, out)
            else:
                raise _Fallback

    def _matches(self, condition: str, type_: GraphQLObjectType) -> bool:
        wanted = self.schema.get_type(condition)
        if wanted is None:
            raise _Fallback
        if isinstance(wanted, GraphQLObjectType):
            return wanted is type_
        return self.schema.is_sub_type(wanted, type_)

    def _field(self, parent: GraphQLObjectType, source: Any, node: FieldNode) -> Any:
        name = node.name.value
        if name == "__typename":
            return parent.name
        definition = parent.fields.get(name)
        if definition is None or not isinstance(source, dict):
            raise _Fallback
        value = source.get(name)
        if callable(value):
            value = value(None, **get_argument_values(definition, node, self.variables))
        return self._complete(definition.type, value, node)

    def _complete(self, type_: Any, value: Any, node: FieldNode) -> Any:
        if isinstance(type_, GraphQLNonNull):
            if value is None:
                raise _Fallback  # graphql-core propagates the null and reports it
            type_ = type_.of_type
        if value is None:
            return None
        if isinstance(type_, GraphQLList):
            if not isinstance(value, list | tuple):
                raise _Fallback
            return [self._complete(type_.of_type, item, node) for item in value]
        if hasattr(type_, "serialize"):  # a scalar or an enum
            return type_.serialize(value)
        if node.selection_set is None or not isinstance(value, dict):
            raise _Fallback
        if not isinstance(type_, GraphQLObjectType):  # an interface or a union: the value names its type
            runtime = self.schema.get_type(value.get("__typename") or "")
            if not isinstance(runtime, GraphQLObjectType) or not self.schema.is_sub_type(type_, runtime):
                raise _Fallback
            type_ = runtime
        return self.selection(type_, value, node.selection_set)
