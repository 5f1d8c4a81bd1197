"""The HTTP engine against hostile or misleading servers: redirects, echoed tokens, huge and deep bodies, and
rate-limit headers that do not mean "wait" (issue 17, items 4, 6, 7 and 8)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest

from extractors.http import ExtractError, HttpClient, PermissionDenied, Redactor, RetryPolicy
from tests.scripted_server import ScriptedServer

TOKEN = "ghp_" + "Zq8" * 13 + "x2"  # 45 characters, like a real token


def client(server: ScriptedServer, waits: list[float] | None = None, **kw) -> HttpClient:
    return HttpClient(server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, secrets=[TOKEN],
                      sleep=(waits if waits is not None else []).append, clock=lambda: 1_000_000.0,
                      retry=RetryPolicy(max_attempts=3, backoff_base_s=0.5), **kw)


def pieces(secret: str, size: int = 6) -> list[str]:
    return [secret[i:i + size] for i in range(len(secret) - size + 1)]


def leaked(text: str, secret: str) -> list[str]:
    return [p for p in pieces(secret) if p in text]


# --- item 4: only a 429 is a PagerDuty rate limit -------------------------------------------------------------

PD_HEADERS = {"ratelimit-limit": "960", "ratelimit-remaining": "955", "ratelimit-reset": "30"}


def test_pagerduty_403_with_rate_limit_headers_is_a_permission_error_not_a_wait():
    with ScriptedServer(lambda *a: (403, PD_HEADERS, {"error": {"message": "Access Denied", "code": 2010}})) as s:
        waits: list[float] = []
        with pytest.raises(PermissionDenied):
            client(s, waits).request_json("GET", "/teams")
    assert waits == [] and len(s.requests) == 1


def test_pagerduty_5xx_with_rate_limit_headers_backs_off_instead_of_waiting_the_reset():
    replies = iter([(502, PD_HEADERS, "bad gateway"), (200, PD_HEADERS, {"ok": 1})])
    with ScriptedServer(lambda *a: next(replies)) as s:
        waits: list[float] = []
        c = client(s, waits)
        assert c.request_json("GET", "/incidents")[0] == {"ok": 1}
    assert len(waits) == 1 and waits[0] < 1.0, "exponential backoff (0.25-0.75 s), not the 30 s reset"
    assert c.stats.rate_limit_waits == 0


def test_pagerduty_429_waits_the_reset():
    replies = iter([(429, {**PD_HEADERS, "ratelimit-remaining": "0"}, {}), (200, PD_HEADERS, {"ok": 1})])
    with ScriptedServer(lambda *a: next(replies)) as s:
        waits: list[float] = []
        client(s, waits).request_json("GET", "/incidents")
    assert waits == [30.0]


def test_402_payment_required_is_a_permission_error():
    with ScriptedServer(lambda *a: (402, {}, {"error": {"message": "Payment Required"}})) as s:
        with pytest.raises(PermissionDenied) as err:
            client(s).request_json("GET", "/teams")
    assert err.value.status == 402 and len(s.requests) == 1


# --- item 6: redirects only to the same scheme, host and port -------------------------------------------------

def test_a_redirect_to_another_host_is_refused_and_nothing_is_sent_there():
    with ScriptedServer(lambda *a: (200, {}, [{"stolen": True}])) as elsewhere:
        with ScriptedServer(lambda *a: (302, {"Location": f"{elsewhere.base_url}/collect"}, "")) as s:
            with pytest.raises(ExtractError, match="refusing to follow the HTTP 302 redirect to .*/collect: "
                                                   "it is not on the configured API") as err:
                client(s).request_json("GET", "/repos/a/b/pulls", context="github__pulls[a/b]")
    assert elsewhere.requests == [], "requests would have followed it (and published its answer)"
    assert "github__pulls[a/b]" in str(err.value)


@pytest.mark.parametrize("location", ["http://127.0.0.1:{other_port}/x", "https://{host}/x", "http://localhost:{port}/x"])
def test_a_redirect_to_another_port_scheme_or_host_name_is_refused(location):
    def reply(method, path, body, headers):
        return 301, {"Location": location.format(other_port=port + 1, host=host, port=port)}, ""

    with ScriptedServer(reply) as s:
        host = s.base_url.removeprefix("http://")
        port = int(host.rsplit(":", 1)[1])
        with pytest.raises(ExtractError, match="refusing to follow the HTTP 301 redirect"):
            client(s).request_json("GET", "/y")
    assert len(s.requests) == 1


def test_a_redirect_on_the_same_origin_is_followed_with_our_credentials():
    def reply(method, path, body, headers):
        if path.startswith("/old"):
            return 307, {"Location": "/repositories/7/pulls?page=1"}, ""
        return 200, {}, [{"n": 1}]

    with ScriptedServer(reply) as s:
        body, response = client(s).request_json("GET", "/old/pulls")
    assert body == [{"n": 1}] and response.url.endswith("/repositories/7/pulls?page=1")
    assert s.requests[1]["headers"]["authorization"] == f"Bearer {TOKEN}"


def test_a_redirect_loop_ends_with_a_clear_error():
    with ScriptedServer(lambda *a: (302, {"Location": "/again"}, "")) as s:
        with pytest.raises(ExtractError, match="more than 5 redirects"):
            client(s).request_json("GET", "/again")
    assert len(s.requests) == 6


# --- item 7: redact first, then cut ---------------------------------------------------------------------------

@pytest.mark.parametrize("offset", [480, 490, 495, 499])
def test_an_echoed_token_cut_by_our_message_limit_leaks_no_piece(offset):
    """The error body quotes 500 characters: on main the cut came before redaction and left the token's head."""
    body = "x" * offset + TOKEN + "y" * 100
    with ScriptedServer(lambda *a: (400, {}, body)) as s:
        with pytest.raises(ExtractError) as err:
            client(s).request_json("GET", "/q", context="github__pulls")
    assert not leaked(str(err.value), TOKEN), str(err.value)[-80:]
    assert "*" in str(err.value), "the mask is there (cut too, at 499)"


@pytest.mark.parametrize("form", ["cut", "base64", "basic", "urlencoded", "tail"])
def test_every_form_of_an_echoed_token_is_masked(form):
    token = "tok/en+" + "Kx9" * 8
    text = {
        "cut": "server said: " + token[:11],  # the server truncated its own echo
        "base64": "header was " + base64.b64encode(f"Bearer {token}".encode()).decode(),
        "basic": "auth " + base64.b64encode(f"me@example.com:{token}".encode()).decode(),
        "urlencoded": "url ?t=" + quote(token, safe=""),
        "tail": "…" + token[-9:] + " end",  # a text cut at its start keeps the end
    }[form]
    out = Redactor([token])(text)
    # The base64 of the token at each of the 3 offsets it can have in an encoded text, minus the edge characters
    # that mix in its neighbours: what any base64 text containing the token contains.
    cores = [base64.b64encode(b"\0" * k + token.encode()).decode()[2 * k: (8 * (k + len(token))) // 6 - 1]
             for k in range(3)]
    for secret in (token, quote(token, safe=""), *cores):
        assert not leaked(out, secret), (form, out)


def test_redaction_leaves_ordinary_text_alone():
    assert Redactor(["s3cret-token-value"])("page 2 of 7: 100 records, s3cr") == "page 2 of 7: 100 records, s3cr"


# --- item 8: bounded bodies and parse depth -------------------------------------------------------------------

def test_a_body_over_the_cap_fails_naming_stream_url_and_reason_without_retrying():
    big = json.dumps([{"x": "y" * 1000}] * 50)  # ~50 KB
    with ScriptedServer(lambda *a: (200, {}, big)) as s:
        with pytest.raises(ExtractError) as err:
            client(s, max_body_bytes=10_000).request_json("GET", f"/repos/a/b/pulls?access_token={TOKEN}",
                                                          context="github__pulls[a/b]")
    message = str(err.value)
    assert "github__pulls[a/b]" in message and "/repos/a/b/pulls" in message
    assert "more than the 10,000 allowed per page" in message
    assert not leaked(message, TOKEN) and len(s.requests) == 1


def test_a_chunked_body_over_the_cap_is_refused_while_it_is_read():
    """No Content-Length to refuse up front: the cap is applied to the bytes as they arrive."""
    sent = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                self.wfile.write(b"1\r\n[\r\n")
                for _ in range(2000):  # up to ~130 MB if nobody stops reading
                    chunk = b'"' + b"z" * 65536 + b'",'
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    sent.append(len(chunk))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        c = HttpClient(f"http://127.0.0.1:{server.server_address[1]}", sleep=lambda s: None,
                       retry=RetryPolicy(max_attempts=2), max_body_bytes=1_000_000)
        with pytest.raises(ExtractError, match="larger than the 1,000,000 bytes allowed per page"):
            c.request_json("GET", "/huge", context="pagerduty__incidents")
    finally:
        server.shutdown()
        server.server_close()
    assert sum(sent) < 2000 * 65536, "the server was not read to its end"


@pytest.mark.parametrize("depth", [65, 1_000, 10_000, 100_000])
def test_a_deeply_nested_body_fails_clearly_instead_of_raising_recursion_error(depth):
    with ScriptedServer(lambda *a: (200, {}, "[" * depth + "]" * depth)) as s:
        with pytest.raises(ExtractError) as err:
            client(s).request_json("GET", "/deep", context="jira__issues[OPS]")
    assert "jira__issues[OPS]" in str(err.value) and "/deep" in str(err.value)
    assert "nested deeper than 64 levels" in str(err.value)
    assert len(s.requests) == 1, "not retried: the same answer would come back"


def test_nesting_within_the_limit_is_data():
    nested: list = []
    for _ in range(60):
        nested = [nested]
    with ScriptedServer(lambda *a: (200, {}, nested)) as s:
        assert client(s).request_json("GET", "/ok")[0] == nested
