"""The vendors' per-minute rate limits on the real clock, when asked (`--realtime-limits`, setting `realtime_limits`).

The emulated clock stands still unless a test moves it, so a budget per minute of that clock would never refill.
That is why, by default, PagerDuty's limit is shown in headers (or enforced per burst, on request) and GitHub's
secondary limit refuses every Nth request when told: a test's outcome then does not depend on how fast the machine
is. A benchmark of wall time needs the limits as they are, or a client that sends too fast looks fast: with this on,
every minute of real time has its budget per credential, as documented:

- PagerDuty: 960 requests a minute per API key (REST API Rate Limits, 2023): 429, `ratelimit-reset` = the seconds
  left in the minute.
- GitHub: 900 points a minute per REST endpoint (GET, HEAD, OPTIONS 1 point; other methods 5) and 2,000 a minute for
  the GraphQL endpoint (a query 1 point, a mutation 5), per token ("Calculating points for the secondary rate
  limit"): 403 with the secondary-limit message and `retry-after`, the primary quota untouched.
- Jira Cloud names no number for API-token traffic (burst limits "per second, per endpoint and method"), so none
  is invented here; its burst limit stays the counted one (`--jira-burst`).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable

from emulator.github_graphql import PATHS as GRAPHQL_PATHS
from emulator.ratelimit import SECONDARY_DOC, SECONDARY_MESSAGE
from emulator.routing import Request, Response, json_response
from emulator.strict import PAGERDUTY_LIMIT_PER_MINUTE, pagerduty_too_many

MINUTE_S = 60.0
GITHUB_REST_POINTS = 900
GITHUB_GRAPHQL_POINTS = 2000


class MinuteWindows:
    """A fixed budget per key for each minute of `clock` (the minute starts at the key's first request)."""

    def __init__(self, period_s: float = MINUTE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.period_s = period_s
        self._clock = clock
        self._windows: dict[tuple, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self.refused = 0

    def take(self, key: tuple, limit: int, points: int = 1) -> float | None:
        """Spend `points` of `key`'s budget; None when they fit, else the seconds until its next minute."""
        now = self._clock()
        with self._lock:
            start, used = self._windows.get(key, (now, 0))
            if now - start >= self.period_s:
                start, used = now, 0
            if used + points > limit:
                self.refused += 1
                return max(start + self.period_s - now, 0.001)
            self._windows[key] = (start, used + points)
            return None


def _credential(req: Request) -> str:
    """Who the budget belongs to: a digest of the credential (never the token itself, not even in memory keys)."""
    return hashlib.sha256((req.header("authorization") or "").encode()).hexdigest()[:16]


def _graphql_points(req: Request) -> int:
    try:
        query = req.json_body().get("query") or ""
    except (ValueError, AttributeError):
        return 1
    return 5 if isinstance(query, str) and query.lstrip().startswith("mutation") else 1


def check(windows: MinuteWindows, api, req: Request, template: str) -> Response | None:
    """The refusal for this request when its minute's budget is spent, else None (the request proceeds)."""
    who = _credential(req)
    if api.name == "pagerduty":
        wait = windows.take(("pagerduty", who), PAGERDUTY_LIMIT_PER_MINUTE)
        if wait is None:
            return None
        return pagerduty_too_many([("ratelimit-limit", str(PAGERDUTY_LIMIT_PER_MINUTE)),
                                   ("ratelimit-remaining", "0"), ("ratelimit-reset", str(math.ceil(wait)))])
    if api.name == "github":
        graphql = template in GRAPHQL_PATHS
        if graphql:
            wait = windows.take(("github-graphql", who), GITHUB_GRAPHQL_POINTS, _graphql_points(req))
        else:
            points = 1 if req.method in ("GET", "HEAD", "OPTIONS") else 5
            wait = windows.take(("github", who, req.method, template), GITHUB_REST_POINTS, points)
        if wait is None:
            return None
        # the primary quota's headers, showing budget left: how a client tells this from a spent quota
        bucket = getattr(req.auth, "bucket", "anonymous")
        quota = (api.graphql.quota(req.now_ms).headers("graphql") if graphql
                 else api.limits.peek(bucket, req.now_ms).headers())
        return json_response(403, {"message": SECONDARY_MESSAGE, "documentation_url": SECONDARY_DOC,
                                   "status": "403"}, headers=[("retry-after", str(math.ceil(wait))), *quota])
    return None
