"""Response bodies from a server we do not trust: bounded in size while they are read, bounded in depth when parsed.

A page of any of our APIs is at most a few megabytes; a server that sends 100 MB (or a gzip bomb that inflates
to it) is broken or hostile, and holding it would take the worker down with it. The body is read in chunks
and abandoned as soon as it passes the cap, so no more than the cap (plus one chunk) is ever held. JSON nested
deeper than any API nests its records is refused before Python's parser recurses out of its stack.
"""

from __future__ import annotations

from typing import Any

import requests

DEFAULT_MAX_BODY_BYTES = 50 * 1024 * 1024  # per page
# Our APIs nest records ~10 levels deep (a Jira changelog item in an issue in a page); 64 is far above that and far
# below the ~1,000 levels where Python's parser raises RecursionError.
MAX_JSON_DEPTH = 64
_CHUNK = 64 * 1024


class BodyRefused(RuntimeError):
    """The body is too large or too deeply nested: not data we will hold or parse. The message says which."""


def read_capped(response: requests.Response, max_bytes: int, keep_head: bool = False) -> bytes:
    """The (decoded) body of a `stream=True` response, refusing one larger than `max_bytes` without holding it.

    `keep_head`: keep the first `max_bytes` instead of refusing (an error body only quoted in a message)."""
    declared = response.headers.get("Content-Length", "")
    if (not keep_head and declared.isdigit() and int(declared) > max_bytes
            and not response.headers.get("Content-Encoding")):
        response.close()
        raise BodyRefused(f"the body is {int(declared):,} bytes, more than the {max_bytes:,} allowed per page")
    chunks, size = [], 0
    for chunk in response.iter_content(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            response.close()
            if keep_head:
                chunks.append(chunk[: max_bytes - (size - len(chunk))])
                break
            raise BodyRefused(f"the body is larger than the {max_bytes:,} bytes allowed per page")
        chunks.append(chunk)
    content = b"".join(chunks)
    response._content = content  # noqa: SLF001 - what requests itself does once a streamed body is read
    return content


def decode_json(response: requests.Response, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`response.json()`, refusing nesting deeper than `max_depth` (Python's parser raises RecursionError past
    ~1,000 levels, with nothing saying which answer it was). Raises ValueError when the body is not JSON."""
    try:
        value = response.json()
    except RecursionError:
        raise BodyRefused(f"the JSON is nested deeper than {max_depth} levels") from None
    check_depth(value, max_depth)
    return value


def check_depth(value: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse a parsed value nested deeper than `max_depth` (iteratively: never recurses itself)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise BodyRefused(f"the JSON is nested deeper than {max_depth} levels")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))
