"""PagerDuty's official REST OpenAPI document as a referee, through openapi-core.

The document (`shared/specs/pagerduty-rest-v2.openapi.json`, OpenAPI 3.0.2) is used as published except for the
defects listed in `SPEC_DEFECTS`, each patched in memory with the smallest change and the evidence for it. Our
payloads are never loosened to fit: where the document disagreed with the emulator and the document was right,
the emulator was fixed (see tests/referees/README.md).

The document does not pass its own meta-validation (`openapi-spec-validator`):
`'20 - incident_summary' is not of type 'integer'` (a `default` that is not an integer, in a parameter of an
endpoint we do not call). openapi-core is therefore built with `spec_validator_cls=None`; response validation
is unaffected.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "specs" / "pagerduty-rest-v2.openapi.json"
SERVER = "https://api.pagerduty.com"

# (JSON pointer of a schema inside components/schemas, property, why it may be null although `nullable` is absent)
NULLABLE = (
    ("Incident/allOf/1", "resolved_at", "its description: '`null` if the incident is not resolved'; the "
                                        "document's own incident example has `resolved_at: null`"),
    ("Incident/allOf/1", "resolve_reason", "the document's own incident examples have `resolve_reason: null`"),
    ("Incident/allOf/1", "alert_grouping", "its description: 'Will be null if the incident has no alerts'"),
    ("Incident/allOf/1/properties/alert_grouping", "ended_at",
     "the document's own incident example has `alert_grouping.ended_at: null` (grouping still active)"),
    ("Incident/allOf/1", "priority", "incidents without a priority (or on accounts without priorities) carry "
                                     "`priority: null` (shared/guide/source-apis.md, PagerDuty pitfall 13)"),
    ("Service/allOf/1", "auto_resolve_timeout", "its description: 'Value is `null` if the feature is disabled'"),
    ("Service/allOf/1", "acknowledgement_timeout", "its description: 'Value is `null` if the feature is "
                                                   "disabled'"),
    ("AcknowledgeLogEntry/allOf/1", "acknowledgement_timeout", "its description: 'It may also be `null`, as "
                                                               "acknowledgements can be performed on incidents whose "
                                                               "services have no `acknowledgement_timeout` set'"),
)


def _at(root: dict, pointer: str) -> Any:
    node: Any = root
    for part in pointer.split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _nullable(schema: dict) -> dict:
    """A property schema that also admits null (OpenAPI 3.0: `nullable` on the schema itself, not beside a $ref)."""
    if "$ref" in schema:  # `nullable` beside allOf/$ref is not enough for a validator: offer null explicitly
        return {"anyOf": [schema, {"type": "object", "nullable": True, "enum": [None]}]}
    return {**schema, "nullable": True}


def patched_spec() -> dict:
    spec = copy.deepcopy(json.loads(SPEC_PATH.read_text(encoding="utf-8")))
    schemas = spec["components"]["schemas"]
    for pointer, prop, _why in NULLABLE:
        props = _at(schemas, pointer)["properties"]
        props[prop] = _nullable(props[prop])
    # AcknowledgeLogEntry.type is enumerated as "acknowledgement_log_entry", while LogEntry.type (the same
    # document), the reference type "acknowledge_log_entry_reference" and the live API say
    # "acknowledge_log_entry". Accept the spelling the rest of the document uses.
    ack_type = _at(schemas, "AcknowledgeLogEntry/allOf/1/properties/type")
    ack_type["enum"] = [*ack_type["enum"], "acknowledge_log_entry"]
    # `oneOf` alternatives that overlap (no required keys, no discriminator): a valid object matches several and
    # `oneOf` then fails by construction. `anyOf` still demands a match with at least one alternative.
    for pointer in OVERLAPPING_ONE_OF:
        node = _at(schemas, pointer)
        node["anyOf"] = node.pop("oneOf")
    return spec


# Schemas whose `oneOf` lists alternatives an object can satisfy at the same time (see patched_spec).
OVERLAPPING_ONE_OF = (
    "Service/allOf/1/properties/alert_grouping_parameters",
    "Channel",  # e.g. {"type": "auto"} satisfies both APIChannel and the generic channel alternative
)


@functools.cache
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(patched_spec(), config=Config(spec_validator_cls=None))


def validate(url: str, status: int, body: bytes, content_type: str = "application/json",
             method: str = "GET") -> None:
    """Validate one emulator response against the operation its URL addresses (raises on a mismatch)."""
    parts = urlsplit(url)
    path = re.sub(r"^/pagerduty", "", parts.path)
    args = _multidict(parse_qsl(parts.query, keep_blank_values=True))
    request = MockRequest(SERVER, method.lower(), path, args=args)
    response = MockResponse(body, status_code=status, content_type=content_type)
    openapi().validate_response(request, response)


def _multidict(pairs: list[tuple[str, str]]) -> Any:
    from werkzeug.datastructures import ImmutableMultiDict

    return ImmutableMultiDict(pairs)


def leaf_errors(exc: BaseException) -> list[str]:
    """The innermost schema errors behind an openapi-core validation error, one line each, deduplicated."""
    out: list[str] = []
    seen: set[str] = set()
    cause: Any = exc
    while cause is not None and not getattr(cause, "schema_errors", None):
        cause = cause.__cause__ or cause.__context__
    for err in getattr(cause, "schema_errors", None) or []:
        stack = [err]
        while stack:
            e = stack.pop()
            if e.context:
                stack.extend(e.context)
                continue
            line = "/".join(re.sub(r"^\d+$", "N", str(p)) for p in e.absolute_path) + ": " + e.message[:200]
            if line not in seen:
                seen.add(line)
                out.append(line)
    return out or [str(exc)[:500]]
