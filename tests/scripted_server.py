"""A loopback HTTP server that answers from a script, for testing the client's reactions."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, str], Any]  # status, headers, body (dict/list → JSON, str/bytes → raw)


class ScriptedServer:
    """`handler(method, path_with_query, json_body, headers) -> Reply`; every request is recorded."""

    def __init__(self, handler: Callable[[str, str, Any, dict[str, str]], Reply]):
        self.handler = handler
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.requests.append({"method": self.command, "path": self.path, "json": body, "headers": headers})
                status, reply_headers, payload = outer.handler(self.command, self.path, body, headers)
                reply_headers = dict(reply_headers)
                self._date = reply_headers.pop("Date", None)  # a scripted server clock replaces the real one
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode()
                    reply_headers = {"Content-Type": "application/json", **reply_headers}
                elif isinstance(payload, str):
                    data = payload.encode()
                else:
                    data = payload or b""
                self.send_response(status)
                for key, value in reply_headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def date_time_string(self, timestamp: float | None = None) -> str:
                return getattr(self, "_date", None) or super().date_time_string(timestamp)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
