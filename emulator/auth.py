"""Credentials and the three vendors' authentication checks, with their real failure responses.

Tokens come from CLI flags, then `EMULATOR_*` environment variables, then the demo defaults. They are compared
in constant time and never logged or echoed; `Credentials.__repr__` hides them so a stray log line cannot leak
them."""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
from dataclasses import dataclass, field

from emulator.routing import Request, Response, json_response

DEMO_JIRA_EMAIL = "demo@example.com"
DEMO_JIRA_TOKEN = "jira-demo-token"
DEMO_PAGERDUTY_TOKEN = "pd-demo-token"
DEMO_GITHUB_TOKEN = "gh-demo-token"

ENV_VARS = {
    "jira_email": "EMULATOR_JIRA_EMAIL",
    "jira_token": "EMULATOR_JIRA_TOKEN",
    "pagerduty_token": "EMULATOR_PAGERDUTY_TOKEN",
    "github_token": "EMULATOR_GITHUB_TOKEN",
}


@dataclass(frozen=True)
class Credentials:
    jira_email: str = DEMO_JIRA_EMAIL
    jira_token: str = field(default=DEMO_JIRA_TOKEN, repr=False)
    pagerduty_token: str = field(default=DEMO_PAGERDUTY_TOKEN, repr=False)
    github_token: str = field(default=DEMO_GITHUB_TOKEN, repr=False)

    @classmethod
    def resolve(cls, **explicit: str | None) -> Credentials:
        """Explicit value, else the environment variable, else the demo default."""
        values = {}
        for name, env in ENV_VARS.items():
            value = explicit.get(name)
            if value is None:
                value = os.environ.get(env) or None
            if value is not None:
                values[name] = value
        return cls(**values)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


# --- Jira: HTTP Basic email:api_token -----------------------------------------------------------------------


def jira_check(req: Request, creds: Credentials) -> Response | None:
    header = req.header("authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            email, _, token = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            email, token = "", ""
        if _same(email, creds.jira_email) and _same(token, creds.jira_token):
            return None
    # Measured on Jira Cloud: a refused API token gets a plain-text 401, not the JSON error envelope.
    headers = [("Content-Type", "text/html;charset=UTF-8")]
    if header:
        headers.append(("X-Seraph-LoginReason", "AUTHENTICATED_FAILED"))
    return Response(401, b"Client must be authenticated to access this resource.", headers)


# --- PagerDuty: Authorization: Token token=<key> ------------------------------------------------------------

_PD_TOKEN = re.compile(r"^\s*Token\s+token\s*=\s*(\S+)\s*$", re.IGNORECASE)


def pagerduty_check(req: Request, creds: Credentials) -> Response | None:
    found = _PD_TOKEN.match(req.header("authorization") or "")
    if found and _same(found.group(1), creds.pagerduty_token):
        return None
    # Error code 2006 is PagerDuty's documented "Authentication failed" code; envelope per the OpenAPI schema.
    return json_response(401, {"error": {"message": "Authentication failed", "code": 2006}})


# --- GitHub: Authorization: Bearer <token> | token <token> --------------------------------------------------


@dataclass(frozen=True)
class GitHubIdentity:
    authenticated: bool
    bucket: str  # rate-limit bucket: one per token, one shared for anonymous callers


def github_identify(req: Request, creds: Credentials) -> GitHubIdentity | Response:
    """No header = anonymous (private repos then look like 404, as on github.com); a wrong token = 401."""
    header = req.header("authorization")
    if not header:
        return GitHubIdentity(False, "anonymous")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and _same(token.strip(), creds.github_token):
        return GitHubIdentity(True, "token")
    return json_response(
        401,
        {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"},
    )
