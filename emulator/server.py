"""The HTTP front: routes `/jira`, `/pagerduty`, `/github` and `/__emulator` to their handlers.

Standard library only. Each response (headers and body) goes out in one write on a TCP_NODELAY socket, so
keep-alive clients never hit the ~40 ms Nagle/delayed-ACK stall that would dominate every benchmark. The
`Date` header comes from the emulated clock, so equal seed + clock give byte-identical responses.

`EmulatorApp.handle` is transport-independent; `start_emulator` runs it behind a real socket in a thread.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from emulator import realtime
from emulator.admin import AdminApi
from emulator.auth import Credentials
from emulator.clock import Clock
from emulator.config import DEFAULT_HOST, DEFAULT_NOW, DEFAULT_PROFILE, DEFAULT_SCALE, DEFAULT_SEED, EmulatorConfig
from emulator.faults import KINDS, FaultPlan, status_fault
from emulator.generator import DEFAULT_JIRA_TIME_ZONE, DEFAULT_PAGERDUTY_TIME_ZONE, build_world
from emulator.github import GitHubApi
from emulator.jira import JiraApi
from emulator.pagerduty import PagerDutyApi
from emulator.routing import Request, Response, json_response
from emulator.stats import REFUSED, UNMATCHED, RequestStats
from emulator.strict import Redirects
from emulator.timefmt import http_date

__all__ = ["EmulatorApp", "EmulatorConfig", "EmulatorHandle", "make_server", "start_emulator"]


class EmulatorApp:
    """World + clock + the three API surfaces; turns (method, target, headers, body) into a Response."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clock = Clock(config.now, config.clock_rate)
        self.world = build_world(
            config.seed, self.clock.start_ms, config.scale, config.jira_time_zone, config.pagerduty_time_zone,
            counts=dict(config.counts), profile=config.profile,
        )
        self.stats = RequestStats()
        self.apis: dict[str, Any] = {
            "jira": JiraApi(self.world, config.credentials),
            "pagerduty": PagerDutyApi(self.world, config.credentials),
            "github": GitHubApi(self.world, config.credentials),
        }
        for api in self.apis.values():
            api.strict = config.strict
        self.apis["pagerduty"].no_teams = config.pagerduty_no_teams
        self.redirects = Redirects()
        if config.github_graphql_points is not None:
            self.apis["github"].graphql.limits.set_limit("graphql", config.github_graphql_points)
        self.faults = FaultPlan(rate=config.fault_rate, kinds=tuple(config.fault_kinds) or KINDS,
                                seed=config.fault_seed, delay_s=config.fault_delay_s)
        self.latency_ms = 0.0
        self.realtime: realtime.MinuteWindows | None = None  # the vendors' per-minute limits (emulator/realtime.py)
        self.tick_ms = 0  # the clock moves this much after every API request: records change mid-walk
        self.settings(
            latency_ms=config.latency_ms,
            realtime_limits=config.realtime_limits,
            github_rate_limit=config.github_rate_limit,
            **({"jira_burst": config.jira_burst} if config.jira_burst is not None else {}),
            **({"github_secondary": {"status": config.github_secondary, "every": config.github_secondary_every,
                                     "retry_after_s": config.retry_after_s}}
               if config.github_secondary else {}),
            retry_after_s=config.retry_after_s if config.jira_burst is not None else None,
        )
        self.admin = AdminApi(self)

    SETTINGS = ("latency_ms", "tick_ms", "github_rate_limit", "github_secondary", "jira_burst", "retry_after_s",
                "pagerduty_rate_limit", "redirect", "realtime_limits")

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Change run-time knobs (any subset of SETTINGS) and return them all; also `POST /__emulator/settings`.

        `github_secondary` is `{"status": 403|429, "every": N, "refuse_next": N, "retry_after_s": S}` (any subset);
        `retry_after_s` goes with `jira_burst` (the Jira 429's Retry-After) and `pagerduty_rate_limit` (N requests
        pass, the next is a 429; null: headers only); `redirect` is `{"status": 302, "to": origin|null, "count": N}`
        (emulator/strict.py)."""
        unknown = set(changes) - set(self.SETTINGS)
        if unknown:
            raise ValueError(f"unknown setting {sorted(unknown)[0]!r}; choose from {', '.join(self.SETTINGS)}")
        github, jira = self.apis["github"], self.apis["jira"]
        if changes.get("latency_ms") is not None:
            if float(changes["latency_ms"]) < 0:
                raise ValueError("latency_ms must not be negative")
            self.latency_ms = float(changes["latency_ms"])
        if changes.get("realtime_limits") is not None:
            on = changes["realtime_limits"]
            if not isinstance(on, bool):
                raise ValueError("realtime_limits: true or false")
            self.realtime = realtime.MinuteWindows() if on else None  # turned on: every budget starts full
        if changes.get("tick_ms") is not None:
            if int(changes["tick_ms"]) < 0:
                raise ValueError("tick_ms must not be negative: the clock only moves forward")
            self.tick_ms = int(changes["tick_ms"])
        if changes.get("github_rate_limit") is not None:
            github.limits.set_limit("token", int(changes["github_rate_limit"]))
        if changes.get("github_secondary") is not None:
            secondary = changes["github_secondary"]
            keys = {"status", "every", "refuse_next", "retry_after_s"}
            if not isinstance(secondary, dict) or set(secondary) - keys:
                raise ValueError(f"github_secondary: an object with keys among {sorted(keys)}")
            github.secondary.configure(**secondary)
        if changes.get("jira_burst") is not None or changes.get("retry_after_s") is not None:
            wait = changes.get("retry_after_s")
            jira.set_burst(int(changes.get("jira_burst", jira.burst.limit) or 0),
                           int(wait) if wait is not None else jira.burst.retry_after_s)
        pagerduty = self.apis["pagerduty"].rate_limit
        if "pagerduty_rate_limit" in changes:
            wait = changes.get("retry_after_s")
            pagerduty.configure(changes["pagerduty_rate_limit"], int(wait) if wait is not None else None)
        if changes.get("redirect") is not None:
            redirect = changes["redirect"]
            if not isinstance(redirect, dict) or set(redirect) - {"status", "to", "count"}:
                raise ValueError("redirect: an object with keys among ['count', 'status', 'to']")
            self.redirects.configure(**redirect)
        return {
            "pagerduty_rate_limit": pagerduty.enforce_after,
            "realtime_limits": self.realtime is not None,
            "redirect": self.redirects.snapshot(),
            "latency_ms": self.latency_ms,
            "tick_ms": self.tick_ms,
            "github_rate_limit": github.limits.limit("token"),
            "github_secondary": github.secondary.snapshot(),
            "jira_burst": jira.burst.limit,
            "retry_after_s": jira.burst.retry_after_s,
        }

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, origin: str
    ) -> Response:
        path, _, qs = target.partition("?")
        first, _, rest = path.lstrip("/").partition("/")
        lowered = {k.lower(): v for k, v in headers.items()}
        req = Request(
            method=method,
            path="/" + rest,
            query=parse_qsl(qs, keep_blank_values=True),
            headers=lowered,
            body=body,
            origin=origin,
            prefix="/" + first,
            now_ms=self.clock.now_ms,
        )
        if first == "__emulator":
            found = self.admin.router.match(method, req.path)
            return found[0].handler(req) if found else self.admin.not_found(req)
        api = self.apis.get(first)
        if api is None:
            return json_response(
                404,
                {
                    "message": "Not Found",
                    "hint": "the emulator serves /jira, /pagerduty, /github and /__emulator",
                },
            )
        found = api.router.match(method, req.path)
        template = found[0].template if found else UNMATCHED
        counted = method  # a request refused by a per-minute limit is counted as `REFUSED <template>`
        redirect = self.redirects.take(req, qs)
        if redirect is not None:
            self.stats.count(api.name, method, template)
            return redirect
        try:
            resp = None
            if found:
                req.path_params = found[1]
            if not (found and found[0].anonymous):
                resp = api.authenticate(req)
            if resp is None and found and self.realtime is not None:
                refused = realtime.check(self.realtime, api, req, template)
                if refused is not None:  # spent this minute: neither handled nor charged by the API
                    counted = REFUSED
                    return refused
            if resp is None:
                resp = found[0].handler(req) if found else api.not_found(req)
            return api.finalize(req, resp)
        except Exception:  # a bug in a handler must not kill the connection thread
            traceback.print_exc(file=sys.stderr)
            return api.internal_error(req)
        finally:
            self.stats.count(api.name, counted, template)
            if self.tick_ms:
                self.clock.advance(self.tick_ms)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "opskpi-emulator"
    sys_version = ""
    timeout = 300  # idle keep-alive connections are dropped after this many seconds
    server: _HttpServer

    def date_time_string(self, timestamp: float | None = None) -> str:
        return http_date(self.server.app.clock.now_ms)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
        if self.server.verbose:
            sys.stderr.write("emulator: " + (format % args) + "\n")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        method = "GET" if self.command == "HEAD" else self.command
        body = self._read_body()
        host = self.headers.get("Host") or f"{self.server.server_name}:{self.server.server_port}"
        api = self.path.lstrip("/").partition("/")[0].partition("?")[0]
        is_api = api in ("jira", "pagerduty", "github")
        if is_api and self.server.app.latency_ms > 0:  # network and server time a real API costs
            time.sleep(self.server.app.latency_ms / 1000)
        fault = self.server.app.faults.draw() if is_api else None
        if fault is not None and self._inject(fault, api):
            return
        resp = self.server.app.handle(method, self.path, dict(self.headers.items()), body, f"http://{host}")
        self._write(resp, head_only=self.command == "HEAD", truncate=fault == "truncate")

    def _inject(self, fault: str, api: str) -> bool:
        """Act out a fault; True when the request is fully handled (no real answer follows)."""
        plan = self.server.app.faults
        if fault in ("slow", "timeout"):
            time.sleep(plan.delay_s)
        if fault in ("slow", "truncate"):
            return False
        if fault in ("timeout", "reset"):
            self.close_connection = True
            try:  # RST instead of FIN: the client sees a dropped connection, not an empty answer
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        status, headers, payload = status_fault(fault, api, plan.retry_after_s)
        self._write(Response(status=status, headers=headers, body=payload), head_only=False)
        return True

    def _write(self, resp: Response, head_only: bool, truncate: bool = False) -> None:
        try:
            reason = HTTPStatus(resp.status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [
            f"HTTP/1.1 {resp.status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
        ]
        lines += [f"{k}: {v}" for k, v in resp.headers]
        bodyless = resp.status == 304 or resp.status < 200 or resp.status == 204
        if not bodyless:
            lines.append(f"Content-Length: {len(resp.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        if truncate and not bodyless:  # promise the whole body, send half, hang up
            self.close_connection = True
            self.wfile.write(head + resp.body[: len(resp.body) // 2])
            return
        self.wfile.write(head if bodyless or head_only else head + resp.body)  # one write per response
        if self.server.verbose:
            self.log_message('"%s" %s %s', self.requestline, resp.status, len(resp.body))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: EmulatorApp, verbose: bool = False) -> None:
        self.app = app
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), which can stall on DNS; the name is only cosmetic here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._connections_lock:
            self._connections.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Drop open keep-alive connections so their handler threads end with the server."""
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def make_server(config: EmulatorConfig, host: str, port: int, verbose: bool = False) -> _HttpServer:
    return _HttpServer((host, port), EmulatorApp(config), verbose)


class EmulatorHandle:
    """A running emulator in a background thread; use as a context manager or call stop()."""

    def __init__(self, server: _HttpServer) -> None:
        self._server = server
        self.app = server.app
        self.host = server.server_name
        self.port = server.server_port
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    @property
    def jira_url(self) -> str:
        return f"{self.base_url}/jira"

    @property
    def pagerduty_url(self) -> str:
        return f"{self.base_url}/pagerduty"

    @property
    def github_url(self) -> str:
        return f"{self.base_url}/github"

    @property
    def credentials(self) -> Credentials:
        return self.app.config.credentials

    @property
    def now(self) -> str:
        return self.app.clock.iso()

    def advance(self, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> str:
        ms = int(((days * 24 + hours) * 60 + minutes) * 60_000 + seconds * 1000)
        self.app.clock.advance(ms)
        return self.now

    def stats(self) -> dict[str, dict[str, int]]:
        return self.app.stats.snapshot()

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Run-time knobs: see EmulatorApp.SETTINGS."""
        return self.app.settings(**changes)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_emulator(
    seed: int = DEFAULT_SEED,
    now: str = DEFAULT_NOW,
    port: int = 0,
    scale: str = DEFAULT_SCALE,
    host: str = DEFAULT_HOST,
    *,
    profile: str = DEFAULT_PROFILE,
    jira_email: str | None = None,
    jira_token: str | None = None,
    pagerduty_token: str | None = None,
    github_token: str | None = None,
    jira_time_zone: str = DEFAULT_JIRA_TIME_ZONE,
    pagerduty_time_zone: str = DEFAULT_PAGERDUTY_TIME_ZONE,
    verbose: bool = False,
    fault_rate: float = 0.0,
    fault_kinds: tuple[str, ...] = (),
    fault_seed: int = 0,
    fault_delay_s: float = 2.0,
    latency_ms: float = 0.0,
    counts: dict[str, int] | None = None,
    jira_burst: int | None = None,
    github_rate_limit: int = 5000,
    github_secondary: int | None = None,
    github_secondary_every: int = 0,
    retry_after_s: int = 1,
    lenient: bool = False,
    pagerduty_no_teams: bool = False,
    clock_rate: float = 0.0,
    github_graphql_points: int | None = None,
    realtime_limits: bool = False,
) -> EmulatorHandle:
    """Build the world and serve it on host:port (0 = a free port) from a daemon thread.

    Credentials not given fall back to the EMULATOR_* environment variables, then to the demo values; read
    them back from `handle.credentials`. The vendors' strict rules apply unless `lenient` (emulator/strict.py).
    """
    creds = Credentials.resolve(
        jira_email=jira_email,
        jira_token=jira_token,
        pagerduty_token=pagerduty_token,
        github_token=github_token,
    )
    config = EmulatorConfig(
        seed=seed,
        now=now,
        scale=scale,
        profile=profile,
        credentials=creds,
        jira_time_zone=jira_time_zone,
        pagerduty_time_zone=pagerduty_time_zone,
        fault_rate=fault_rate,
        fault_kinds=tuple(fault_kinds),
        fault_seed=fault_seed,
        fault_delay_s=fault_delay_s,
        latency_ms=latency_ms,
        counts=tuple(sorted((counts or {}).items())),
        jira_burst=jira_burst,
        github_rate_limit=github_rate_limit,
        github_secondary=github_secondary,
        github_secondary_every=github_secondary_every,
        retry_after_s=retry_after_s,
        strict=not lenient,
        pagerduty_no_teams=pagerduty_no_teams,
        clock_rate=clock_rate,
        github_graphql_points=github_graphql_points,
        realtime_limits=realtime_limits,
    )
    return EmulatorHandle(make_server(config, host, port, verbose))
