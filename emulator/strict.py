"""Vendor rules that only a strict emulator shows, and misbehaviour on demand.

Strict mode (the default; `--lenient` turns it off for a test that needs the old kindness) answers the way the
vendors document, even where that is inconvenient for a client:

- GitHub: a workflow run's `repository` carries no `default_branch` (it is a minimal repository; the branch comes
  from `GET /repos/{owner}/{repo}`), and a filtered workflow-run listing reports a `total_count` of at most 1,000,
  the most it serves: a client cannot learn from it that more runs matched.
- PagerDuty: `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset` on every answer (not only on a 429),
  and a rate limit is only ever a 429.

Independent of strictness: a PagerDuty account without the Teams feature (`--pagerduty-no-teams`) answers `/teams`
with 402 Payment Required, and redirects can be asked for (`redirect` setting) to test a client's redirect policy.
"""

from __future__ import annotations

import threading

from emulator.routing import Request, Response, json_response
from emulator.timefmt import MINUTE

PAGERDUTY_LIMIT_PER_MINUTE = 960  # per account API key (PagerDuty's 2023 limits)
FILTERED_RESULTS_CAP = 1000  # GitHub: filtered workflow-run listings serve at most this many


class PagerDutyRateLimit:
    """Requests per emulated minute, shown on every answer; enforced only when `enforce_after` is set.

    Enforced like the Jira burst limit: `enforce_after` requests pass, the next one is answered 429 (with
    `ratelimit-reset` = `retry_after_s`) and a new budget starts, so a run on a clock that does not move still
    finishes, after waiting as a real client would."""

    def __init__(self, limit: int = PAGERDUTY_LIMIT_PER_MINUTE) -> None:
        self.limit = limit
        self.enforce_after: int | None = None
        self.retry_after_s = 1
        self.refused = 0
        self._window = -1
        self._used = 0
        self._burst = 0
        self._lock = threading.Lock()

    def configure(self, enforce_after: int | None, retry_after_s: int | None = None) -> None:
        if enforce_after is not None and int(enforce_after) < 1:
            raise ValueError("pagerduty_rate_limit must be at least 1 (or null: headers only)")
        with self._lock:
            self.enforce_after = None if enforce_after is None else int(enforce_after)
            if retry_after_s is not None:
                self.retry_after_s = int(retry_after_s)
            self._burst = 0

    def count(self, now_ms: int) -> tuple[bool, list[tuple[str, str]]]:
        """(refused, headers) for one request at the emulated `now_ms`."""
        with self._lock:
            window = now_ms // MINUTE
            if window != self._window:
                self._window, self._used = window, 0
            self._used += 1
            self._burst += 1
            refused = self.enforce_after is not None and self._burst > self.enforce_after
            if refused:
                self._burst = 0
                self.refused += 1
            remaining = 0 if refused else max(0, self.limit - self._used)
            reset = self.retry_after_s if refused else max(1, ((window + 1) * MINUTE - now_ms + 999) // 1000)
        return refused, [("ratelimit-limit", str(self.limit)), ("ratelimit-remaining", str(remaining)),
                         ("ratelimit-reset", str(reset))]


def pagerduty_too_many(headers: list[tuple[str, str]]) -> Response:
    return json_response(429, {"error": {"message": "Rate Limit Exceeded", "code": 2020}}, headers=headers)


def pagerduty_payment_required() -> Response:
    """What an account without the Teams feature gets from `/teams` (the OpenAPI `PaymentRequired` response)."""
    return json_response(402, {"error": {
        "message": "Payment Required", "code": 2012,
        "errors": ["Account does not have the abilities to perform the action: teams."]}})


class Redirects:
    """Redirect the next `count` API requests (all three APIs) with `status` to `to` (an origin such as
    `http://127.0.0.1:9`; default: the emulator itself) plus the request's own path and query. A redirect to
    the emulator is then answered normally, as the count is used up."""

    def __init__(self) -> None:
        self.status, self.to, self.count = 302, None, 0
        self._lock = threading.Lock()

    def configure(self, status: int = 302, to: str | None = None, count: int = 1) -> None:
        if int(status) not in (301, 302, 303, 307, 308):
            raise ValueError("redirect.status must be 301, 302, 303, 307 or 308")
        if int(count) < 0:
            raise ValueError("redirect.count must not be negative")
        with self._lock:
            self.status, self.to, self.count = int(status), to, int(count)

    def take(self, req: Request, query: str) -> Response | None:
        with self._lock:
            if self.count <= 0:
                return None
            self.count -= 1
            status, to = self.status, self.to
        location = f"{(to or req.origin).rstrip('/')}{req.prefix}{req.path}" + (f"?{query}" if query else "")
        return json_response(status, {"message": "Moved", "url": location}, headers=[("Location", location)])

    def snapshot(self) -> dict:
        return {"status": self.status, "to": self.to, "count": self.count}
