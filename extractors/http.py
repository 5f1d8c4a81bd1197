"""One HTTP client for every source: timeouts, retries with backoff, rate limits, redaction.

Sources differ in how they say "slow down" (Jira and PagerDuty answer 429, GitHub answers 403 or 429
with its own headers) but the reaction is the same: wait as long as the server asks, else back off
exponentially with jitter, and give up after a bounded number of tries. Keeping that in one place
means a fix to retry behaviour reaches all three sources at once.
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from extractors.bodies import DEFAULT_MAX_BODY_BYTES, BodyRefused, decode_json, read_capped
from extractors.redaction import Redactor

__all__ = ["ExtractError", "HttpClient", "PermissionDenied", "Redactor", "RequestStats", "RetryPolicy"]

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
# How much of an error body is read to quote it in a message (it is redacted, then cut to 500 characters).
ERROR_BODY_BYTES = 64 * 1024


class ExtractError(RuntimeError):
    """A request failed for good. The message names the source, stream and (redacted) URL."""


class PermissionDenied(ExtractError):
    """401/402/403/404 that is not a rate limit: the token (or the account's plan, 402) may not read this resource
    (not retried)."""

    def __init__(self, message: str, status: int, body: str):
        super().__init__(message)
        self.status = status
        self.body = body


class QuotaRelease(ExtractError):
    """A spent hourly quota resets later than the caller will hold its worker for (`release_after_s`): the request
    is not sent and the caller gives its slot back and comes back at `resume_at` (epoch seconds, this machine's
    clock: the server-clock wait converted, plus the margin). `completed` is filled by the engine with the streams
    that finished before (their landing batches are committed: the checkpoint a resumed extract starts from)."""

    def __init__(self, message: str, resource: str, wait_s: float, resume_at: float):
        super().__init__(message)
        self.resource, self.wait_s, self.resume_at = resource, wait_s, resume_at
        self.completed: list[Any] = []


@dataclass
class RequestStats:
    """What a client spent; copied into each stream's manifest."""

    requests: int = 0
    retries: int = 0
    not_modified: int = 0
    rate_limit_waits: int = 0
    waited_s: float = 0.0
    points: int = 0  # GraphQL points the server says the queries cost (`rateLimit.cost`)
    quota_waits: int = 0  # waits for a spent hourly quota to reset
    by_status: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "not_modified": self.not_modified,
            "rate_limit_waits": self.rate_limit_waits,
            "waited_s": round(self.waited_s, 3),
            "points": self.points,
            "quota_waits": self.quota_waits,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
        }


@dataclass(frozen=True)
class BodyVerdict:
    """What a body check (GraphQL: `errors` in an HTTP 200) makes of a decoded body.

    `problem` None: the body is good. Otherwise `retry` False fails the request for good (a query GitHub refuses,
    a deleted repository), True retries it: after the quota's reset when `rate_limited`, with a smaller page when
    `shrink` (timeouts, resource limits), else with backoff (partial data: never land half a page)."""

    problem: str | None = None
    retry: bool = False
    rate_limited: bool = False
    shrink: bool = False
    points: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    # A server asking us to wait longer than this is treated as a failure rather than stalling the run.
    max_wait_s: float = 900.0
    # A spent hourly quota is waited for up to this long (GitHub: 65 minutes, set by the source), measured on the
    # server's clock (its `Date` header) so a skewed local clock neither shortens nor lengthens the wait.
    max_quota_wait_s: float = 900.0
    # A quota wait longer than this is not slept through here: QuotaRelease is raised so the caller (an Airflow
    # task) can give its worker slot back and resume later. None: always wait (the CLI, tests).
    release_after_s: float | None = None
    # GitHub's advice for a secondary limit without retry-after.
    default_rate_limit_wait_s: float = 60.0


DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_READ_TIMEOUT_S = 60.0


def client_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    """`HttpClient` keyword arguments a source's settings may tune: the read timeout and the tries."""
    read = float(settings.get("read_timeout_s") or DEFAULT_READ_TIMEOUT_S)
    options: dict[str, Any] = {"timeout": (min(DEFAULT_CONNECT_TIMEOUT_S, read), read)}
    policy: dict[str, Any] = {}
    if settings.get("max_attempts"):
        policy["max_attempts"] = int(settings["max_attempts"])
    if settings.get("max_quota_wait_s"):
        policy["max_quota_wait_s"] = float(settings["max_quota_wait_s"])
    if settings.get("release_after_s") is not None:
        policy["release_after_s"] = float(settings["release_after_s"])
    if policy:
        options["retry"] = RetryPolicy(**policy)
    if settings.get("max_body_bytes"):
        options["max_body_bytes"] = int(settings["max_body_bytes"])
    if settings.get("server_clock_rate"):
        # Only an emulator runs its clock fast (`--clock-rate`): a wait measured on its clock is this much shorter.
        options["server_clock_rate"] = float(settings["server_clock_rate"])
    return options


_PORTS = {"http": 80, "https": 443}


class _RedactUrls(logging.Filter):
    """urllib3 logs request lines at DEBUG: mask credentials and secret parameters in their URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = Redactor()(record.getMessage()), ()
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactUrls())


class HttpClient:
    """A `requests.Session` bound to one base URL and one credential."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: requests.auth.AuthBase | None = None,
        headers: dict[str, str] | None = None,
        secrets: Iterable[str] = (),
        timeout: tuple[float, float] = (DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_READ_TIMEOUT_S),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        server_clock_rate: float = 1.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.auth = auth
        self.session.headers.update({"User-Agent": "opskpi/0.1 (+https://github.com/opskpi)"})
        self.session.headers.update(headers or {})
        secrets = list(secrets)
        if isinstance(auth, requests.auth.HTTPBasicAuth):
            # The header value is the base64 of user:token: an echo of it leaks the token as surely.
            pair = f"{auth.username}:{auth.password}".encode()
            secrets += [str(auth.password), base64.b64encode(pair).decode()]
        self.redact = Redactor(secrets)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.stats = RequestStats()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self.max_body_bytes = max_body_bytes
        self._server_clock_rate = server_clock_rate if server_clock_rate > 0 else 1.0
        # Per quota ("graphql" or "core"): (remaining, reset epoch s, what the last call cost), from the last answer.
        self._quota: dict[str, tuple[int, float, int]] = {}
        self._server_offset_s = 0.0  # server clock minus ours, from the last `Date` header
        # Called with {"resource", "wait_s", "reset_at", "remaining"} before a quota wait (progress events).
        self.wait_hook: Callable[[dict[str, Any]], None] | None = None

    @staticmethod
    def options(settings: Mapping[str, Any]) -> dict[str, Any]:
        """What a source's settings tune in its client: `HttpClient(..., **HttpClient.options(settings))`."""
        return client_options(settings)

    def url(self, path_or_url: str, what: str = "") -> str:
        """An absolute URL for a path, or an absolute URL the server gave (a `Link`, a redirect) checked first.

        The session sends our credentials with every request, so a URL from a response may only point at the
        configured API's scheme, host and port; credentials embedded in it are dropped (requests would otherwise
        send them instead of ours).
        """
        if not path_or_url.startswith(("http://", "https://")):
            return f"{self.base_url}/{path_or_url.lstrip('/')}"
        given, base = urlsplit(path_or_url), urlsplit(self.base_url)
        try:
            same = (given.scheme, given.hostname, given.port or _PORTS.get(given.scheme)) == (
                base.scheme, base.hostname, base.port or _PORTS.get(base.scheme))
        except ValueError:  # a port that is not a number
            same = False
        if not same:
            shown = self.redact.cut(path_or_url, 300)
            raise ExtractError(
                f"refusing to follow {what + ' to ' if what else ''}{shown}: it is not on the configured API "
                f"{base.scheme}://{base.netloc} (same scheme, host and port), and the request would carry our "
                "credentials there")
        netloc = given.hostname + (f":{given.port}" if given.port else "")
        return urlunsplit((given.scheme, netloc, given.path, given.query, given.fragment))

    def request_json(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Any = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        context: str = "",
        body_check: Callable[[Any], BodyVerdict] | None = None,
        shrink: Callable[[Any], Any] | None = None,
    ) -> tuple[Any, requests.Response]:
        """Send a request and decode its JSON body, retrying what is worth retrying.

        A 2xx whose body is not JSON (a truncated body, an HTML error page from a proxy) is retried
        like a 5xx: it is a transport problem, not data. Returns (None, response) for 304 and 204.
        `body_check` judges a decoded 2xx body (GraphQL answers its errors with HTTP 200); `shrink` turns the
        JSON body into a smaller request (a smaller page) after a timeout (502/504) or a "too big" verdict, or
        returns None when it cannot. A spent hourly quota is waited for before sending (see `_await_quota`).
        """
        try:
            url = self.url(path_or_url)
        except ExtractError as exc:
            raise ExtractError(f"{context}: {exc}" if context else str(exc)) from None
        attempt = 0
        unsignalled_limits = 0
        resource = "graphql" if body_check is not None else "core"
        while True:
            attempt += 1
            self._await_quota(resource, context)
            try:
                problem, wait_s, response = self._attempt(method, url, params, json_body, headers)
            except PermissionDenied as exc:  # not worth retrying: name the stream it failed for
                raise PermissionDenied(self.redact(f"{context}: {exc}" if context else str(exc)),
                                       exc.status, exc.body) from None
            except ExtractError as exc:
                raise ExtractError(self.redact(f"{context}: {exc}" if context else str(exc))) from None
            if wait_s is not None and response is not None and self._unsignalled_limit(response):
                # A secondary limit that names no wait: at least a minute, doubling on each repeat (GitHub).
                unsignalled_limits += 1
                wait_s = self.retry.default_rate_limit_wait_s * 2 ** (unsignalled_limits - 1)
            if response is not None:
                self._note_quota(response, resource)
            shrunk = rate_limited = False
            if problem is None and response is not None:
                if response.status_code in (204, 304):
                    return None, response
                try:
                    body = decode_json(response)
                except BodyRefused as exc:  # not data we will parse: a server bug or an attack, not retried
                    raise ExtractError(self.redact(f"{context}: {method} {url}: {exc}")) from None
                except ValueError:
                    problem = f"HTTP {response.status_code} with a body that is not JSON"
                    wait_s = None
                else:
                    if body_check is None:
                        return body, response
                    verdict = body_check(body)
                    self.stats.points += verdict.points
                    self._note_cost(resource, verdict.points)
                    if verdict.problem is None:
                        return body, response
                    if not verdict.retry:
                        raise ExtractError(self.redact(f"{context}: {method} {url}: {verdict.problem}"))
                    problem, wait_s, shrunk = verdict.problem, None, verdict.shrink
                    if verdict.rate_limited:
                        self.stats.rate_limit_waits += 1
                        rate_limited, wait_s = True, self._reset_wait(response, resource)
            elif (response is not None and response.status_code in (502, 504)) or (
                    response is None and body_check is not None and problem == "ReadTimeout"):
                shrunk = True  # GitHub GraphQL's timeout (or ours): the query was too big to answer in time
            if shrunk and shrink is not None:
                smaller = shrink(json_body)
                if smaller is not None:
                    json_body = smaller
                    log.warning(self.redact(f"{context}: {problem}: retrying with a smaller page"))
            if attempt >= self.retry.max_attempts:
                raise ExtractError(
                    self.redact(f"{context}: giving up on {method} {url} after {attempt} attempts: {problem}")
                )
            if wait_s is None:
                wait_s = min(self.retry.backoff_max_s, self.retry.backoff_base_s * 2 ** (attempt - 1))
                wait_s *= 0.5 + self._rng.random()  # jitter so parallel clients do not retry in step
            quota = response is not None and (rate_limited or self._quota_spent(response))
            allowed = self.retry.max_quota_wait_s if quota else self.retry.max_wait_s
            if wait_s > max(allowed, self.retry.max_wait_s):
                raise ExtractError(
                    self.redact(
                        f"{context}: {method} {url}: server asks to wait {wait_s:.0f}s, "
                        f"more than the allowed {max(allowed, self.retry.max_wait_s):.0f}s ({problem})"
                    )
                )
            self.stats.retries += 1
            if quota:
                self._wait_for_reset(resource, wait_s, context, problem)
                continue
            self.stats.waited_s += wait_s
            log.warning(self.redact(f"{context}: {problem}; retry {attempt} in {wait_s:.2f}s ({method} {url})"))
            self._sleep(wait_s / self._server_clock_rate)

    def _attempt(self, method, url, params, json_body, headers):
        """One try (following same-origin redirects). Returns (problem or None, seconds to wait or None for
        backoff, response)."""
        try:
            response = self._send(method, url, params, json_body, headers)
            status = response.status_code
            if status < 400:
                read_capped(response, self.max_body_bytes)
            else:  # only quoted in a message, or read for a rate-limit message
                read_capped(response, ERROR_BODY_BYTES, keep_head=True)
        except BodyRefused as exc:
            raise ExtractError(f"{method} {url}: {exc}") from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            return f"{type(exc).__name__}", None, None
        except requests.RequestException as exc:  # e.g. ChunkedEncodingError on a cut body
            return f"{type(exc).__name__}", None, None
        self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        if status == 304:
            self.stats.not_modified += 1
        if status < 400:
            return None, None, response
        rate_wait = self._rate_limit_wait(response)
        if status == 429 or (status == 403 and rate_wait is not None):
            self.stats.rate_limit_waits += 1
            return f"rate limited (HTTP {status})", rate_wait, response
        if status in RETRYABLE_STATUSES:
            return f"HTTP {status}", rate_wait, response
        body = self.redact.cut(response.text, 500)
        message = f"{method} {self.redact(url)} answered HTTP {status}: {body}"
        if status in (401, 402, 403, 404):
            raise PermissionDenied(message, status, body)
        raise ExtractError(message)

    def _send(self, method, url, params, json_body, headers) -> requests.Response:
        """Send, following redirects only to the configured API's scheme, host and port (never elsewhere: the
        answer would be published as this API's data). The body is left unread (`stream=True`)."""
        for hop in range(MAX_REDIRECTS + 1):
            self.stats.requests += 1
            response = self.session.request(method, url, params=params, json=json_body, headers=headers,
                                            timeout=self.timeout, stream=True, allow_redirects=False)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response
            response.close()
            self.stats.by_status[response.status_code] = self.stats.by_status.get(response.status_code, 0) + 1
            if hop == MAX_REDIRECTS:
                break
            url = self.url(urljoin(response.url, location), what=f"the HTTP {response.status_code} redirect")
            params = None  # the new location carries its own query
            if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                method, json_body = "GET", None
        raise ExtractError(f"{method} {url}: more than {MAX_REDIRECTS} redirects")

    def _rate_limit_wait(self, response: requests.Response) -> float | None:
        """Seconds the server asks us to wait, from whichever header this API uses; None if it says nothing.

        A GitHub 403 only counts as a rate limit when a header or the message says so: otherwise it is
        a permission error and retrying it would only burn the quota.
        """
        h = response.headers
        retry_after = h.get("Retry-After")
        if retry_after:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                parsed = email.utils.parsedate_to_datetime(retry_after)
                if parsed is not None:
                    return max(0.0, parsed.timestamp() - self._clock())
        if h.get("x-ratelimit-remaining") == "0":
            try:
                return max(1.0, float(h.get("x-ratelimit-reset") or "") - self._server_now(response))
            except ValueError:
                return self.retry.default_rate_limit_wait_s  # out of quota, reset unknown
        if response.status_code == 429 and h.get("ratelimit-reset"):
            # PagerDuty: seconds until the window resets. It sends these headers on every answer, so they mean
            # "wait" only on a 429: a 403 (no permission) or a 5xx carrying them is not a rate limit.
            try:
                return max(0.0, float(h["ratelimit-reset"]))
            except ValueError:
                pass
        if self._unsignalled_limit(response):
            return self.retry.default_rate_limit_wait_s
        return None

    # --- the hourly quota, on the server's clock -------------------------------------------------------------

    def _server_now(self, response: requests.Response | None = None) -> float:
        """Now on the server's clock: its `Date` header when the response has one, else our clock corrected by
        the offset the last `Date` showed."""
        date = response.headers.get("Date") if response is not None else None
        if date:
            try:
                parsed = email.utils.parsedate_to_datetime(date)
            except (TypeError, ValueError):
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                self._server_offset_s = parsed.timestamp() - self._clock()
        return self._clock() + self._server_offset_s

    @staticmethod
    def _quota_spent(response: requests.Response) -> bool:
        """REST's primary quota is spent (`x-ratelimit-remaining: 0`), as opposed to a secondary limit that says
        how long to wait (GraphQL's `RATE_LIMITED` comes as a body verdict)."""
        h = response.headers
        return not h.get("Retry-After") and h.get("x-ratelimit-remaining") == "0"

    def _note_quota(self, response: requests.Response, resource: str) -> None:
        h = response.headers
        try:
            remaining, reset = int(h["x-ratelimit-remaining"]), float(h["x-ratelimit-reset"])
        except (KeyError, ValueError):
            return
        self._server_now(response)
        cost = self._quota.get(resource, (0, 0.0, 1))[2]
        self._quota[resource] = (remaining, reset, cost)

    def _note_cost(self, resource: str, points: int) -> None:
        if resource in self._quota and points > 0:
            remaining, reset, _ = self._quota[resource]
            self._quota[resource] = (remaining, reset, points)

    def _reset_wait(self, response: requests.Response, resource: str) -> float:
        try:
            reset = float(response.headers.get("x-ratelimit-reset") or "")
        except ValueError:
            return self.retry.default_rate_limit_wait_s
        return max(1.0, reset - self._server_now(response))

    def _await_quota(self, resource: str, context: str) -> None:
        """Before sending: when the last answer left less quota than a call costs (the last query's points for
        GraphQL, one request for REST), wait for the reset instead of spending a refused request."""
        if resource not in self._quota:
            return
        remaining, reset, cost = self._quota[resource]
        wait_s = reset - self._server_now()
        if remaining >= max(1, cost) or wait_s <= 0:
            return
        if wait_s > self.retry.max_quota_wait_s:
            raise ExtractError(self.redact(
                f"{context}: the {resource} quota is spent and resets in {wait_s:.0f}s, more than the allowed "
                f"{self.retry.max_quota_wait_s:.0f}s (sources.github.max_quota_wait)"))
        self._wait_for_reset(resource, wait_s, context, f"{remaining} left, a call costs {cost}", margin_s=1.0)

    def _wait_for_reset(self, resource: str, wait_s: float, context: str, why: str, margin_s: float = 0.0) -> None:
        """Sleep until the quota's reset (plus a margin past it when we wait before being refused)."""
        reset_at = datetime.fromtimestamp(self._server_now() + wait_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        wait_s += margin_s
        release = self.retry.release_after_s
        if release is not None and wait_s > release:
            raise QuotaRelease(self.redact(
                f"{context}: {resource} quota spent ({why}); it resets at {reset_at} (server clock), in {wait_s:.0f}s, "
                f"longer than the {release:.0f}s a worker is held for (release_slot_after): releasing the slot"),
                resource, wait_s, self._clock() + wait_s / self._server_clock_rate)
        self.stats.quota_waits += 1
        self.stats.waited_s += wait_s
        log.warning(self.redact(f"{context}: {resource} quota spent ({why}); waiting {wait_s:.0f}s for its reset "
                                f"at {reset_at} (server clock)"))
        if self.wait_hook is not None:
            self.wait_hook({"resource": resource, "wait_s": round(wait_s, 1), "reset_at": reset_at})
        self._sleep(wait_s / self._server_clock_rate)
        self._quota.pop(resource, None)

    @staticmethod
    def _unsignalled_limit(response: requests.Response) -> bool:
        """A 403/429 whose message speaks of a rate limit but whose headers name no wait (GitHub's secondary
        limits): wait at least a minute, then back off exponentially, as GitHub asks."""
        if response.status_code not in (403, 429):
            return False
        h = response.headers
        if h.get("Retry-After") or h.get("x-ratelimit-remaining") == "0" or (
                response.status_code == 429 and h.get("ratelimit-reset")):
            return False
        try:
            message = str(json.loads(response.text).get("message", ""))
        except (ValueError, AttributeError):
            return False
        return "rate limit" in message.lower()
