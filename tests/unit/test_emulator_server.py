"""Emulator process-level behaviour: start/stop, CLI, determinism, auth failures, admin endpoints."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from emulator.server import start_emulator

ROOT = Path(__file__).resolve().parents[2]
JIRA = ("demo@example.com", "jira-demo-token")
PD = {"Authorization": "Token token=pd-demo-token"}
GH = {"Authorization": "Bearer gh-demo-token"}


@pytest.fixture(scope="module")
def emu():
    with start_emulator(seed=42, now="2026-11-20T06:00:00Z", profile="stress") as handle:
        yield handle


def _snapshot(handle) -> list[tuple[bytes, str, str, str]]:
    """Body, Link, ETag and Date of representative responses, with this instance's host:port masked."""
    host = f"{handle.host}:{handle.port}"
    s = requests.Session()
    calls = [
        (f"{handle.pagerduty_url}/incidents?limit=100&date_range=all", {"headers": PD}),
        (f"{handle.pagerduty_url}/log_entries?limit=100", {"headers": PD}),
        (f"{handle.pagerduty_url}/services", {"headers": PD}),
        (f"{handle.github_url}/repos/acme/api/pulls?state=all&per_page=100", {"headers": GH}),
        (
            f"{handle.jira_url}/rest/api/3/search/jql?jql=project%20%3D%20OPS&fields=*all&expand=changelog",
            {"auth": JIRA},
        ),
    ]
    out = []
    for url, kw in calls:
        r = s.get(url, **kw)
        assert r.status_code == 200, r.text
        out.append(
            (
                r.content.replace(host.encode(), b"HOST"),
                (r.headers.get("Link") or "").replace(host, "HOST"),
                r.headers.get("etag") or "",
                r.headers["Date"],
            )
        )
    return out


def test_same_seed_and_clock_give_identical_bytes():
    with start_emulator(seed=7, profile="stress") as a, start_emulator(seed=7, profile="stress") as b:
        first, second = _snapshot(a), _snapshot(b)
    assert [(body, link, date) for body, link, _, date in first] == [
        (body, link, date) for body, link, _, date in second
    ]
    assert first[0][3] == "Fri, 20 Nov 2026 06:00:00 GMT"


def test_different_seed_gives_different_data():
    with start_emulator(seed=1, profile="stress") as a, start_emulator(seed=2, profile="stress") as b:
        first, second = _snapshot(a), _snapshot(b)
    assert all(x[0] != y[0] for x, y in zip(first, second, strict=True))


def test_handle_exposes_urls_and_stops(emu):
    assert emu.base_url.startswith("http://127.0.0.1:")
    assert emu.github_url == emu.base_url + "/github"
    assert requests.get(emu.base_url + "/__emulator/health").json() == {
        "status": "ok",
        "now": "2026-11-20T06:00:00Z",
        "seed": 42,
        "scale": "demo",
    }


def test_stop_releases_port():
    handle = start_emulator(profile="stress")
    port = handle.port
    requests.get(handle.base_url + "/__emulator/health")
    handle.stop()
    handle.stop()  # idempotent
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_jira_401_is_plain_text_like_jira_cloud(emu):
    url = emu.jira_url + "/rest/api/3/search/jql?jql=project%3DOPS"
    for kwargs in (
        {},
        {"auth": ("demo@example.com", "wrong")},
        {"auth": ("other@example.com", "jira-demo-token")},
    ):
        r = requests.get(url, **kwargs)
        assert r.status_code == 401
        assert r.text == "Client must be authenticated to access this resource."
        assert r.headers["Content-Type"].startswith("text/html")


def test_pagerduty_401_body(emu):
    for headers in ({}, {"Authorization": "Token token=wrong"}, {"Authorization": "Bearer pd-demo-token"}):
        r = requests.get(emu.pagerduty_url + "/incidents", headers=headers)
        assert r.status_code == 401
        assert r.json() == {"error": {"message": "Authentication failed", "code": 2006}}


def test_github_401_body_and_anonymous_404(emu):
    r = requests.get(emu.github_url + "/repos/acme/api/pulls", headers={"Authorization": "token nope"})
    assert r.status_code == 401
    assert r.json() == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    anonymous = requests.get(emu.github_url + "/repos/acme/api/pulls")
    assert anonymous.status_code == 404  # private repositories are invisible without a token
    assert anonymous.headers["x-ratelimit-limit"] == "60"
    for scheme in ("Bearer", "token"):
        assert (
            requests.get(
                emu.github_url + "/repos/acme/api", headers={"Authorization": f"{scheme} gh-demo-token"}
            ).status_code
            == 200
        )


def test_credentials_can_be_overridden():
    with start_emulator(jira_email="a@b.c", jira_token="t1", pagerduty_token="t2", github_token="t3",
                        profile="stress") as h:
        assert (
            requests.get(h.jira_url + "/rest/api/3/myself", auth=("a@b.c", "t1")).json()["emailAddress"]
            == "a@b.c"
        )
        assert requests.get(h.jira_url + "/rest/api/3/myself", auth=JIRA).status_code == 401
        assert requests.get(h.pagerduty_url + "/teams", headers={"Authorization": "Token token=t2"}).ok
        assert requests.get(h.github_url + "/repos/acme/api", headers={"Authorization": "token t3"}).ok
        assert "t1" not in repr(h.credentials) and "t3" not in repr(h.credentials)


def test_unknown_paths_use_each_apis_404_shape(emu):
    auth_basic = "Basic " + base64.b64encode(b"demo@example.com:jira-demo-token").decode()
    jira = requests.get(emu.jira_url + "/rest/api/3/nope", headers={"Authorization": auth_basic})
    assert jira.status_code == 404 and jira.json()["message"].startswith("null for uri: http://")
    pd = requests.get(emu.pagerduty_url + "/nope", headers=PD)
    assert pd.status_code == 404 and pd.json() == {"error": {"message": "Not Found", "code": 2100}}
    gh = requests.get(emu.github_url + "/nope", headers=GH)
    assert gh.status_code == 404 and gh.json()["message"] == "Not Found"
    assert requests.get(emu.base_url + "/other").status_code == 404


def test_stats_count_per_api_and_template_and_reset():
    with start_emulator(profile="stress") as h:
        for _ in range(3):
            requests.get(h.github_url + "/repos/acme/api/pulls", headers=GH)
        requests.get(h.github_url + "/repositories/1/pulls", headers=GH)
        requests.get(h.pagerduty_url + "/incidents", headers=PD)
        stats = requests.get(h.base_url + "/__emulator/stats").json()
        assert stats["github"]["GET /repos/{owner}/{repo}/pulls"] == 3
        assert stats["github"]["GET /repositories/{repo_id}/pulls"] == 1
        assert stats["pagerduty"] == {"GET /incidents": 1}
        assert requests.post(h.base_url + "/__emulator/reset-stats").ok
        assert requests.get(h.base_url + "/__emulator/stats").json() == {}


def test_advance_moves_clock_forward_only():
    with start_emulator(profile="stress") as h:
        r = requests.post(h.base_url + "/__emulator/advance", json={"days": 1})
        assert r.json() == {"now": "2026-11-21T06:00:00Z"}
        assert requests.post(h.base_url + "/__emulator/advance", json={"hours": 6}).json()["now"] == (
            "2026-11-21T12:00:00Z"
        )
        assert requests.post(h.base_url + "/__emulator/advance", json={"days": -1}).status_code == 400
        assert requests.post(h.base_url + "/__emulator/advance", json={"weeks": 1}).status_code == 400
        gh = requests.get(h.github_url + "/repos/acme/api", headers=GH)
        assert gh.headers["Date"] == "Sat, 21 Nov 2026 12:00:00 GMT"


def test_keep_alive_responses_do_not_stall(emu):
    # Without TCP_NODELAY / single writes, each keep-alive response would wait ~40 ms for a delayed ACK.
    s = requests.Session()
    s.get(emu.pagerduty_url + "/teams", headers=PD)
    started = time.perf_counter()
    for _ in range(50):
        assert s.get(emu.pagerduty_url + "/teams", headers=PD).status_code == 200
    assert time.perf_counter() - started < 1.5


def test_cli_prints_one_line_and_stops_on_sigterm():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--seed", "3", "--now", "2026-01-05T00:00:00Z"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("emulator listening on http://127.0.0.1:")
        base = line.rsplit(" ", 1)[1]
        assert requests.get(base + "/__emulator/health", timeout=5).json()["now"] == "2026-01-05T00:00:00Z"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()


def test_cli_help_documents_defaults():
    out = subprocess.run(
        [sys.executable, "-m", "emulator", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT), EMULATOR_GITHUB_TOKEN="secret-xyz"),
    )
    assert out.returncode == 0
    for default in ("8765", "42", "2026-11-20T06:00:00Z", "127.0.0.1", "demo", "EMULATOR_GITHUB_TOKEN"):
        assert default in out.stdout
    assert "secret-xyz" not in out.stdout
