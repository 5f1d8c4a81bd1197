"""Hostile names from the configuration and from the APIs go through the whole pipeline as data.

A rewriting proxy in front of the emulator renames things as the APIs would send them: a service
name and a team name become strings with quotes, semicolons, SQL comments, Jinja braces, right-to-left text
and emoji, a repository and a Jira project key the most unusual names their vendors allow (and the proxy maps
them back in requests, so the emulator still answers). The configuration names them too (team mapping,
repository teams, project teams) and adds hostile values to every list dbt receives as a variable. The run
must succeed, and the names must come out in the published marts exactly as they went in: nothing reached SQL, JQL, a
URL or a Jinja template unquoted.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import duckdb
import pytest
import requests

from emulator.server import start_emulator
from extractors.sources.jira import jql_string
from tests.reliability.runs import EMULATOR_NOW, TOKENS, run_all, small_config, write_config

# `long` (make test-long, run by CI): a whole run, which keeps `make test` within 15 minutes
pytestmark = [pytest.mark.slow, pytest.mark.long]

SERVICE = "check'out\"; DROP TABLE marts.fct_incidents; -- {{ 7*7 }} 💳"
TEAM = "Pay'ments \"ünï\" عربي;--"
# Repository names and project keys are checked against the vendors' characters when the config is read (a quote
# could never be in one: tests/unit/test_config_before_requests.py); these use every character the vendors allow.
REPO = "acme/a.p_i-.x"
PROJECT = "O_P9S"
RENAMES = [("checkout-api", SERVICE), ("Payments", TEAM), ("acme/api", REPO), ("OPS", PROJECT)]
CONFIG_TEAM = "pay'team\"); DELETE FROM raw.config__services; --"
HOSTILE_VALUES = ["P1'); DROP TABLE raw.pagerduty__incidents; --", "prod'\"; --", "{{ var('x') }}", "ü'\\"]


def rename(value: Any, pairs: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in pairs:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [rename(v, pairs) for v in value]
    if isinstance(value, dict):
        return {k: rename(v, pairs) for k, v in value.items()}
    return value


class RenamingProxy:
    """Forwards to the emulator; original names become hostile in answers and back again in requests."""

    def __init__(self, upstream: str):
        host, port = upstream.removeprefix("http://").split(":")
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                path = unquote(self.path)
                for original, hostile in RENAMES:
                    path = path.replace(hostile, original)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if body:
                    back = [(jql_string(h), jql_string(o)) for o, h in RENAMES] + [(h, o) for o, h in RENAMES]
                    back.append((REPO.split("/", 1)[1], "api"))  # GraphQL names a repository by owner and name
                    body = json.dumps(rename(json.loads(body), back)).encode()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "host")}
                headers["Host"] = self.headers["Host"]  # the emulator builds Link URLs from it: they stay on us
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                conn.request(self.command, quote(path, safe="/?&=:+,[]%@*;$!'()"), body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                if data and "json" in (reply.getheader("Content-Type") or ""):
                    data = json.dumps(rename(json.loads(data), RENAMES)).encode()
                self.send_response(reply.status)
                for key, value in reply.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()
                outer.requests += 1

            do_GET = do_POST = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self.requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> RenamingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def published_text(db: Path) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        return "\n".join(repr(con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()) for s, t in tables)


def test_hostile_names_from_config_and_apis_reach_the_marts_verbatim(tmp_path, monkeypatch):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    with start_emulator(seed=7, now=EMULATOR_NOW, profile="stress") as emu, RenamingProxy(emu.base_url) as proxy:
        services = requests.get(f"{emu.pagerduty_url}/services", timeout=10,
                                headers={"Authorization": "Token token=pd-demo-token"}).json()["services"]
        checkout = next(s["id"] for s in services if s["name"] == "checkout-api")
        raw = small_config(tmp_path / "data", proxy.base_url, history_days=30)
        raw["sources"]["jira"]["projects"] = [PROJECT, "WEB"]
        raw["sources"]["github"]["repos"] = [REPO]
        raw["services"] = {checkout: {"team": CONFIG_TEAM, "slo_target_pct": 99.5}}
        raw["availability"] = {"downtime_priorities": HOSTILE_VALUES}
        raw["incidents"] = {"jira_issue_types": ["Incident", *HOSTILE_VALUES]}
        raw["dora"] = {"production_environments": ["production", *HOSTILE_VALUES],
                       "hotfix_labels": ["hotfix", *HOSTILE_VALUES], "repo_teams": {REPO: CONFIG_TEAM},
                       "repo_services": {REPO: [checkout]}}
        raw["jira_flow"] = {"project_teams": {PROJECT: CONFIG_TEAM}, "bug_issue_types": ["Bug", *HOSTILE_VALUES]}
        config = write_config(tmp_path / "config.yml", raw)
        result = run_all(config, "hostile-names")
    assert proxy.requests > 10

    text = published_text(config.published_dir / "opskpi.duckdb")
    for name in (SERVICE, REPO, PROJECT, CONFIG_TEAM):
        assert repr(name)[1:-1] in text, f"{name!r} is missing from the published marts"
    assert result["published"]["tables"]["mart_availability_daily"] > 0
    with duckdb.connect(str(config.published_dir / "opskpi.duckdb"), read_only=True) as con:
        assert con.execute("SELECT DISTINCT team FROM marts.mart_availability_daily WHERE service_name = ?",
                           [SERVICE]).fetchall() == [(CONFIG_TEAM,)]
        assert con.execute("SELECT count(*) FROM marts.fct_incidents").fetchone()[0] > 0, "no table was dropped"
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.config__services").fetchone()[0] == 1
        assert con.execute("SELECT DISTINCT repo FROM raw.github__pulls").fetchall() == [(REPO,)]
        assert con.execute("SELECT count(*) FROM raw.jira__issues WHERE project_key = ?", [PROJECT]).fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM raw.pagerduty__teams WHERE name = ?", [TEAM]).fetchone()[0] == 1
