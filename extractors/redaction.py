"""Secrets out of every text that may reach a log, an exception or a file: redact first, cut after.

A server (or a proxy in front of it) can echo our credentials back in an error body: whole, base64-encoded
(HTTP Basic), URL-encoded, or cut off mid-token because the body was truncated. Redacting after cutting a
message let a prefix of the token through, so every form is masked, and so is any piece of at least
`MIN_PREFIX` characters that starts like one of them: whatever cuts the text later, no 6-character piece of
a secret survives.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
# A run of this many characters of a secret is treated as the secret: long enough that ordinary text does
# not match by chance, short enough that what is left at a cut tells an attacker nothing usable.
MIN_PREFIX = 6
# Secrets shorter than this are not masked at all (masking 1-3 characters would destroy ordinary text).
MIN_SECRET = 4

# `scheme://user:password@host`: credentials a server (or a Link header) put into a URL.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@'\"<>]*(?::[^/\s@'\"<>]*)?@")
# Query parameters that carry secrets in the wild (signed URLs, OAuth, API keys).
_SECRET_PARAMS = re.compile(
    r"(?i)([?&;](?:access_token|refresh_token|token|api_key|apikey|api-key|key|client_secret|password|secret"
    r"|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&#\s'\"<>]+"
)


def base64_forms(secret: str) -> list[str]:
    """The characters the base64 of `secret` always produces, whatever bytes surround it in the encoded text.

    Base64 encodes 3 bytes as 4 characters, so the secret's characters depend on its offset (0, 1 or 2 bytes
    into a group, e.g. after `user:` in a Basic header). For each offset, keep only the characters whose 6 bits
    all come from the secret: they appear verbatim in any base64 text that contains it.
    """
    raw = secret.encode()
    forms = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        first = -(-8 * offset // 6)  # ceil: the first character without bits of the padding bytes
        last = 8 * (offset + len(raw)) // 6  # floor: the characters after it mix in what follows the secret
        forms.append(encoded[first:last])
    return forms


def secret_forms(secret: str) -> set[str]:
    """Every way a secret can show up in text we did not write: as is, URL-encoded, inside base64."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), *base64_forms(secret)}
    return {f for f in forms if len(f) >= MIN_SECRET}


def _piece_patterns(form: str) -> list[re.Pattern[str]]:
    """Regexes matching `form`, or any prefix or suffix of it of at least MIN_PREFIX characters (a text cut at
    its end keeps a prefix, one cut at its start a suffix); each matches the longest piece it can."""
    if len(form) <= MIN_PREFIX:
        return [re.compile(re.escape(form))]
    tail = head = ""
    for char in reversed(form[MIN_PREFIX:]):
        tail = f"(?:{re.escape(char)}{tail})?"
    for char in form[:-MIN_PREFIX]:
        head = f"(?:{head}{re.escape(char)})?"
    return [re.compile(re.escape(form[:MIN_PREFIX]) + tail), re.compile(head + re.escape(form[-MIN_PREFIX:]))]


class Redactor:
    """Replaces every configured secret (in all its forms, and any ≥ 6-character prefix of one) with ***.

    Besides the configured secrets it masks what no configuration can list: credentials embedded in a
    URL (`https://user:pass@host`) and secret-looking query parameters (`?access_token=…`).
    """

    def __init__(self, secrets: Iterable[str] = ()):
        forms = sorted({f for s in secrets if s and len(s) >= MIN_SECRET for f in secret_forms(s)})
        self._patterns = [p for form in forms for p in _piece_patterns(form)]

    def __call__(self, text: str) -> str:
        # Every match of every form on the original text, merged: forms that share a beginning (a token and its
        # URL-encoding) must not stop each other half-way, as one alternation regex would.
        spans = sorted(m.span() for p in self._patterns for m in p.finditer(text) if m.end() > m.start())
        if spans:
            merged: list[list[int]] = []
            for start, end in spans:
                if merged and start <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            parts, at = [], 0
            for start, end in merged:
                parts += [text[at:start], MASK]
                at = end
            text = "".join(parts) + text[at:]
        text = _URL_CREDENTIALS.sub(rf"\1{MASK}@", text)
        return _SECRET_PARAMS.sub(rf"\1{MASK}", text)

    def cut(self, text: str, limit: int) -> str:
        """Redacted, then shortened to `limit` characters: never the other way round."""
        redacted = self(text)
        return redacted if len(redacted) <= limit else redacted[:limit] + "…"
