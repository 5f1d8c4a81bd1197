"""Hostile and broken API answers (tests/corpus/*.json): each is loaded correctly or turned away clearly.

Every case is served by a scripted local server as the answer of one stream's endpoint (the other
endpoints answer empty), after a good batch of the same stream was loaded. extract → validate → load
then runs as in production, and the case's outcome must be the one it declares:

- `loaded`: the records land in the raw table exactly as sent (the stored JSON equals the record) and
  their typed columns hold the expected values;
- `quarantined`: the guard moves the batch to quarantine, with a message naming the source, the
  stream, the record (its key, or its page and position) and the rule;
- `rejected`: extraction stops with a clear error naming the stream (the answer is not data: not
  JSON, the wrong shape, a pagination that loops or never ends), within a bounded number of requests.

Whatever the outcome the warehouse is never corrupted and earlier data never lost: rows loaded before
are unchanged, watermarks do not move for data that was not loaded, and after a batch is turned away
a good batch served next loads normally (one bad batch never blocks the stream).

Case files: `title`, `source`, `stream`, `pages` (answers in order, the last one repeating: `body`
JSON or `raw` text, `headers`, `status`; `{base}`, `{host}`, `{n}`, `{next}` and `{token}` (the source's token)
are filled in;
`{"$repeat": [s, k]}` is s repeated k times; `echo_headers` echoes the request headers; a list `body` served to a
GraphQL stream is wrapped as the one page of its connection), `expect`,
`message` (substrings of the error), `rows` (key → typed column values), `config` (source settings),
`forbid` (never in the message or the logs) and `max_requests`. No piece of 6 characters of any token is ever in
the message or the logs.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from extractors import http
from extractors.http import ExtractError
from extractors.pagination import PaginationError
from extractors.sources import build_source
from opskpi import pipeline
from opskpi.config import parse_config
from tests.reliability.runs import NOW, RUN_DATE
from tests.scripted_server import ScriptedServer

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CASES = sorted(CORPUS.glob("*.json"))
TOKENS = {"CORPUS_JIRA_TOKEN": "jira-corpus-token", "CORPUS_PD_TOKEN": "pd-corpus-token",
          "CORPUS_GH_TOKEN": "gh-corpus-token"}
SOURCE_TOKEN = {"jira": "jira-corpus-token", "pagerduty": "pd-corpus-token", "github": "gh-corpus-token"}


def _good_pd(id_: str, day: int) -> dict:
    return {"id": id_, "type": "incident", "title": f"good {id_}", "status": "resolved", "urgency": "high",
            "service": {"id": "PSVC1"}, "created_at": f"2026-11-{day:02d}T10:00:00Z",
            "updated_at": f"2026-11-{day:02d}T11:00:00Z", "resolved_at": f"2026-11-{day:02d}T11:00:00Z"}


def _good_jira(id_: str, day: int) -> dict:
    return {"id": id_, "key": f"OPS-{id_}", "fields": {
        "summary": "good", "status": {"name": "Done", "statusCategory": {"key": "done"}}, "issuetype": {"name": "Bug"},
        "priority": {"name": "High"}, "project": {"key": "OPS"}, "labels": [],
        "created": f"2026-11-{day:02d}T10:00:00.000+0000", "updated": f"2026-11-{day:02d}T12:00:00.000+0000",
        "resolutiondate": f"2026-11-{day:02d}T12:00:00.000+0000", "assignee": None}}


def _good_gh(number: int, day: int) -> dict:
    return {"id": str(60000 + number), "number": number, "state": "CLOSED", "title": f"good {number}",
            "created_at": f"2026-11-{day:02d}T10:00:00Z", "updated_at": f"2026-11-{day:02d}T12:00:00Z",
            "closed_at": f"2026-11-{day:02d}T12:00:00Z", "merged_at": None}


def _good_release(id_: int, day: int) -> dict:
    return {"id": id_, "tag_name": f"v{id_}", "created_at": f"2026-11-{day:02d}T10:00:00Z",
            "published_at": f"2026-11-{day:02d}T10:00:00Z"}


def graphql_page(nodes: list[dict], has_next: bool = False, cursor: str | None = None) -> dict:
    """One page of a GitHub GraphQL connection, under every connection name the GitHub streams read."""
    conn = {"pageInfo": {"hasNextPage": has_next, "endCursor": cursor}, "nodes": nodes}
    return {"data": {"repository": {"pullRequests": conn, "deployments": conn},
                     "rateLimit": {"cost": 1, "remaining": 4999, "resetAt": "2026-11-20T07:00:00Z"}}}


# Per (source, stream) the corpus targets: a good first page, and a good page served after the case.
GOOD = {
    ("pagerduty", "incidents"): (lambda recs: {"incidents": recs, "more": False, "total": len(recs)},
                                 [_good_pd("PGOOD1", 10), _good_pd("PGOOD2", 11)], [_good_pd("PAFTER", 19)]),
    ("jira", "issues"): (lambda recs: {"issues": recs, "isLast": True},
                         [_good_jira("10001", 10), _good_jira("10002", 11)], [_good_jira("10099", 19)]),
    ("github", "pulls"): (graphql_page, [_good_gh(1, 18), _good_gh(2, 18)], [_good_gh(99, 19)]),
    ("github", "releases"): (lambda recs: recs, [_good_release(1, 18), _good_release(2, 18)],
                             [_good_release(99, 19)]),
}


def is_target(source: str, stream: str, method: str, path: str, body: Any) -> bool:
    bare = path.partition("?")[0]
    if source == "pagerduty":
        return bare == "/incidents"
    if source == "jira":  # the issues search, not the id-only reconciliation with the same endpoint
        return method == "POST" and bare == "/rest/api/3/search/jql" and (body or {}).get("fields") != ["id"]
    if stream == "pulls":
        return bare == "/graphql" and "PullRequestsPage" in (body or {}).get("query", "")
    return bare == f"/repos/acme/api/{stream}"


def empty_reply(source: str, path: str) -> Any:
    """An empty answer of the right shape for every endpoint the case does not target."""
    if source == "pagerduty":
        return {"services": [], "teams": [], "incidents": [], "log_entries": [], "alerts": [], "limit": 100,
                "offset": 0, "more": False, "total": 0}
    if source == "jira":
        if path.startswith("/rest/api/3/status"):
            return []
        return {"issues": [], "values": [], "isLast": True, "total": 0, "startAt": 0, "maxResults": 50}
    if path.partition("?")[0] == "/repos/acme/api":  # the repository itself (its default branch)
        return {"id": 1, "full_name": "acme/api", "default_branch": "main", "updated_at": "2026-11-01T00:00:00Z"}
    if path.startswith("/graphql"):
        return graphql_page([])
    return {"total_count": 0, "workflow_runs": []} if "/actions/runs" in path else []


def expand(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$repeat"}:
            text, times = value["$repeat"]
            return text * times
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value


class CaseServer:
    """Serves the case's pages in order to the target endpoint (the last one repeats), empty elsewhere."""

    def __init__(self, source: str, pages: list[dict], stream: str = ""):
        self.source, self.pages, self.stream = source, pages, stream
        self.target_requests = 0
        self.server = ScriptedServer(self.reply)

    def fill(self, text: str) -> str:
        host = self.server.base_url.removeprefix("http://")
        return (text.replace("{base}", f"http://{host}/api").replace("{host}", host)
                .replace("{token}", SOURCE_TOKEN[self.source])
                .replace("{next}", str(self.target_requests + 1)).replace("{n}", str(self.target_requests)))

    def reply(self, method: str, path: str, body: Any, headers: dict[str, str]):
        path = path.removeprefix("/api")
        if not is_target(self.source, self.stream, method, path, body):
            return 200, {}, empty_reply(self.source, path)
        self.target_requests += 1
        page = self.pages[min(self.target_requests, len(self.pages)) - 1]
        reply_headers = {k: self.fill(v) for k, v in page.get("headers", {}).items()}
        if "raw" in page:
            return page.get("status", 200), reply_headers, self.fill(page["raw"]).encode("utf-8", "surrogatepass")
        payload = expand(page.get("body"))
        if (self.source, self.stream) == ("github", "pulls") and isinstance(payload, list):
            payload = graphql_page(payload)
        if page.get("echo_headers"):
            payload = {**payload, "you_sent": headers}
        reply_headers.setdefault("Content-Type", "application/json")
        return page.get("status", 200), reply_headers, self.fill(json.dumps(payload))


def make_config(data_dir: Path, base_url: str, source: str, extra: dict | None = None):
    settings = {
        "jira": {"base_url": f"{base_url}/api", "email": "corpus@example.com", "token_env": "CORPUS_JIRA_TOKEN",
                 "projects": ["OPS"]},
        "pagerduty": {"base_url": f"{base_url}/api", "token_env": "CORPUS_PD_TOKEN"},
        "github": {"base_url": f"{base_url}/api", "token_env": "CORPUS_GH_TOKEN", "repos": ["acme/api"]},
    }[source]
    settings["max_attempts"] = 3
    raw = {"data_dir": str(data_dir), "history_days": 30, "sources": {source: {**settings, **(extra or {})}}}
    return parse_config(raw, data_dir)


def run_steps(config, source: str) -> tuple[str, str]:
    """extract → validate → load; returns (outcome, message)."""
    ctx = pipeline.RunContext.for_date(config, RUN_DATE, "corpus", now=NOW)
    outcome, message = "loaded", ""
    try:
        pipeline.extract(config, source, ctx)
    except (ExtractError, PaginationError) as exc:  # what extraction raises for an answer that is not data
        outcome, message = "rejected", str(exc)
    try:
        pipeline.validate(config, source, ctx)
        pipeline.load(config, ctx)
    except pipeline.GuardFailure as exc:
        assert outcome == "loaded", f"a guard failure after a rejected extract: {exc}"
        outcome, message = "quarantined", str(exc)
    return outcome, message


def serve_good(config_dir: Path, source: str, stream: str, records: list[dict]) -> None:
    page, _, _ = GOOD[source, stream]
    server = CaseServer(source, [{"body": page(records)}], stream)
    with server.server:
        config = make_config(config_dir, server.server.base_url, source)
        outcome, message = run_steps(config, source)
    assert outcome == "loaded", message


@pytest.fixture(scope="module")
def baselines(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """Per (source, stream), a data directory where a good batch of that stream is already loaded."""
    mp = pytest.MonkeyPatch()
    for name, value in TOKENS.items():
        mp.setenv(name, value)
    root = tmp_path_factory.mktemp("baselines")
    try:
        for (source, stream), (_, first, _) in GOOD.items():
            serve_good(root / f"{source}-{stream}", source, stream, first)
    finally:
        mp.undo()
    return {key: root / f"{key[0]}-{key[1]}" for key in GOOD}


def snapshot(warehouse: Path, table: str, pk: list[str]) -> dict[tuple, tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        cols = ", ".join(f'"{c}"' for c in pk)
        rows = con.execute(f'SELECT {cols}, record::VARCHAR FROM raw."{table}"').fetchall()
        marks = con.execute("SELECT * EXCLUDE (updated_at) FROM meta.watermarks ORDER BY ALL").fetchall()
    return {"rows": {tuple(str(v) for v in r[:-1]): r[-1] for r in rows}, "watermarks": marks}


def typed_row(warehouse: Path, table: str, pk_column: str, key: str) -> dict[str, Any]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        cur = con.execute(f'SELECT * EXCLUDE (record, _batch_id, _loaded_at) FROM raw."{table}" '
                          f'WHERE CAST("{pk_column}" AS VARCHAR) = ?', [key])
        names = [d[0] for d in cur.description]
        found = cur.fetchall()
    assert len(found) == 1, f"{key!r}: {len(found)} rows"
    return dict(zip(names, found[0], strict=True))


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@pytest.mark.slow
@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_hostile_answer_is_loaded_or_turned_away_cleanly(path, baselines, tmp_path, monkeypatch, caplog):
    case = json.loads(path.read_text())
    source, stream_name = case["source"], case["stream"]
    assert (source, stream_name) in GOOD
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    # Retries as in production, minus the waiting.
    monkeypatch.setattr(http, "RetryPolicy", functools.partial(http.RetryPolicy, backoff_base_s=0.01))
    data_dir = tmp_path / "data"
    shutil.copytree(baselines[source, stream_name], data_dir)
    stream = build_source(source, {"base_url": "http://x", "email": "", "projects": ["OPS"], "repos": ["acme/api"],
                                   "token": "t"}).stream(stream_name)
    table, pk = stream.key, list(stream.primary_key)
    warehouse = data_dir / "warehouse.duckdb"
    before = snapshot(warehouse, table, pk)

    server = CaseServer(source, case["pages"], stream_name)
    caplog.set_level(logging.INFO)
    with server.server:
        config = make_config(data_dir, server.server.base_url, source, case.get("config"))
        outcome, message = run_steps(config, source)

    assert outcome == case["expect"], f"{case['title']}: {outcome}: {message}"
    for part in case.get("message", []):
        assert part in message, f"{case['title']}: {part!r} not in: {message}"
    for secret in [*case.get("forbid", []), *TOKENS.values()]:
        assert secret not in message and secret not in caplog.text, f"{secret!r} leaked"
    for token in TOKENS.values():  # not even in part: redaction comes before any cut
        pieces = {token[i:i + 6] for i in range(len(token) - 5)}
        assert not [p for p in pieces if p in message or p in caplog.text], f"a piece of {token!r} leaked"
    if case.get("max_requests"):
        assert server.target_requests <= case["max_requests"], f"{server.target_requests} requests: not bounded"

    after = snapshot(warehouse, table, pk)
    assert all(after["rows"].get(key) == record for key, record in before["rows"].items()), "earlier data changed"
    if outcome != "loaded":
        assert after == before, "nothing may change when a batch is turned away"
    if outcome == "quarantined":
        verdicts = list((config.quarantine_dir / source / stream_name).glob("*/_validation.json"))
        load_errors = list((config.quarantine_dir / source / stream_name).glob("*/_load_error.json"))
        assert verdicts or load_errors
        assert not list((config.landing_dir / source / stream_name).glob(f"{verdicts[0].parent.name}*"))
    if outcome == "loaded":
        served = [expand(r) for p in case["pages"] if isinstance(p.get("body"), (dict, list))
                  for r in (p["body"] if isinstance(p["body"], list) else p["body"].get(stream.records_key) or [])]
        for record in served:  # stored exactly as sent
            key = tuple(str(c.value(record, {"repo": "acme/api"})) for c in map(stream.column, pk))
            assert json.loads(after["rows"][key]) == record, f"{key} not stored as sent"
        for key, columns in case.get("rows", {}).items():
            row = typed_row(warehouse, table, pk[-1], key)
            for column, value in columns.items():
                assert as_text(row[column]) == value, (key, column, row[column])

    if outcome != "loaded":  # the stream is not stuck: the next good answer loads normally
        _, _, later = GOOD[source, stream_name]
        serve_good(data_dir, source, stream_name, later)
        final = snapshot(warehouse, table, pk)
        assert len(final["rows"]) == len(after["rows"]) + len(later)
