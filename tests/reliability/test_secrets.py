"""Canary tokens never leak, and published files carry no personal e-mail addresses.

A whole `opskpi run` (through Airflow, as in production) uses canary tokens; afterwards the test
searches everything the run produced for them, and for the Basic-auth form of Jira's: the command's
output, every file under the data directory byte by byte (Airflow's task logs and metadata DB, the
landing Parquet and manifests, dbt's target and logs, the published files, the report), every text
value of every table in the warehouse and in the published DuckDB file, and every value of every
landing and published Parquet file (Parquet pages are compressed, so bytes alone could hide a token).

The e-mail addresses the APIs sent (Jira's emailAddress, commit authors…) stay in the raw records
and must not reach the published DuckDB file, the published Parquet or the report.

A second, fast test makes servers echo the credentials back in error bodies and put credentials in a
`Link` URL, and checks the exceptions and logs the pipeline produces from that.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from emulator.server import start_emulator
from extractors.http import ExtractError, Redactor
from extractors.pagination import PaginationError
from opskpi import pipeline
from tests.reliability.runs import NOW, RUN_DATE
from tests.scripted_server import ScriptedServer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CANARY = {"CANARY_JIRA_TOKEN": "cnry-JIRA-5e1f0c9a42", "CANARY_PD_TOKEN": "cnry-PD-77b2d4e913",
          "CANARY_GH_TOKEN": "cnry-GH-c0ffee11d7"}
JIRA_EMAIL = "canary.owner@acme-secrets.example"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def secrets() -> list[str]:
    basic = base64.b64encode(f"{JIRA_EMAIL}:{CANARY['CANARY_JIRA_TOKEN']}".encode()).decode()
    return [*CANARY.values(), basic]


def table_texts(db: Path) -> dict[str, str]:
    """Every table of a DuckDB file (all schemas) as one text per table."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for schema, table in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall():
            rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            out[f"{db.name}:{schema}.{table}"] = repr(rows)
    return out


def parquet_text(path: Path) -> str:
    return repr(pq.read_table(path).to_pylist())


def leaks(texts: dict[str, str | bytes], needles: list[str]) -> list[str]:
    found = []
    for where, text in texts.items():
        for needle in needles:
            if (needle.encode() in text) if isinstance(text, bytes) else (needle in text):
                found.append(f"{needle[:12]}… in {where}")
    return found


@pytest.mark.slow
@pytest.mark.long  # a whole run through Airflow: make test-long (run by CI) keeps `make test` within 15 minutes
def test_canary_tokens_never_leak_and_published_files_carry_no_emails(tmp_path):
    with start_emulator(seed=7, now="2026-11-20T06:00:00Z", jira_email=JIRA_EMAIL,
                        jira_token=CANARY["CANARY_JIRA_TOKEN"], pagerduty_token=CANARY["CANARY_PD_TOKEN"],
                        github_token=CANARY["CANARY_GH_TOKEN"], profile="stress") as emu:
        data_dir = tmp_path / "data"
        config = {
            "data_dir": str(data_dir), "history_days": 14,
            "sources": {
                "jira": {"base_url": f"{emu.base_url}/jira", "email": JIRA_EMAIL, "token_env": "CANARY_JIRA_TOKEN",
                         "projects": ["OPS", "WEB"]},
                "pagerduty": {"base_url": f"{emu.base_url}/pagerduty", "token_env": "CANARY_PD_TOKEN"},
                "github": {"base_url": f"{emu.base_url}/github", "token_env": "CANARY_GH_TOKEN",
                           "repos": ["acme/api"]},
            },
        }
        path = tmp_path / "config.yml"
        path.write_text(yaml.safe_dump(config))
        env = {**os.environ, **CANARY, "PYTHONPATH": str(PROJECT_ROOT)}
        completed = subprocess.run(
            [sys.executable, "-m", "opskpi.cli", "run", "--config", str(path), "--date", RUN_DATE.isoformat()],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-5000:]

    texts: dict[str, str | bytes] = {"command output": output}
    files = [p for p in data_dir.rglob("*") if p.is_file() and not p.is_symlink()]
    # `opskpi run` prints a summary; dag.test()'s task logs go to data/logs/airflow/ (searched with every file).
    task_logs = "".join(p.read_text(errors="replace") for p in (data_dir / "logs" / "airflow").glob("*.log"))
    assert "[DAG TEST] end task task_id=load" in task_logs and "extracted " in task_logs, "the task logs are searched"
    assert "headline KPIs" in output, "the summary is searched"
    for file in files:
        texts[str(file.relative_to(data_dir))] = file.read_bytes()
        if file.suffix == ".parquet":
            texts[f"{file.relative_to(data_dir)} (values)"] = parquet_text(file)
    for db in [data_dir / "warehouse.duckdb", data_dir / "published" / "opskpi.duckdb"]:
        texts.update(table_texts(db))
    assert len(files) > 50
    searched = {p.name for p in files}
    assert "index.html" in {p.name for p in (data_dir / "published" / "versions").rglob("docs/*")}, "dbt docs"
    assert any(name.endswith(".jsonl") for name in searched), "the run's JSON log is searched"
    assert not leaks(texts, secrets()), leaks(texts, secrets())[:10]

    # The APIs' e-mail addresses are in the raw records (that is where they belong)...
    raw = "\n".join(t for k, t in table_texts(data_dir / "warehouse.duckdb").items() if ":raw." in k)
    emails = sorted(set(EMAIL.findall(raw)) | {JIRA_EMAIL})
    assert len(emails) > 3, "the source data has e-mail addresses to look for"
    # ...and nowhere a BI user or a report reader can see them.
    published = data_dir / "published"
    if hasattr(pipeline, "report"):  # the run writes its report under published/report: searched below
        assert any((published / "report").rglob("*.html")), "the report is searched too"
    shown: dict[str, str | bytes] = table_texts(published / "opskpi.duckdb")
    for file in published.rglob("*"):
        if file.is_file():
            shown[str(file.relative_to(data_dir))] = file.read_bytes()
            if file.suffix == ".parquet":
                shown[f"{file.relative_to(data_dir)} (values)"] = parquet_text(file)
    assert not leaks(shown, emails), leaks(shown, emails)[:10]


ECHO_SOURCES = {
    "jira": {"email": "canary.owner@acme-secrets.example", "token_env": "CANARY_JIRA_TOKEN", "projects": ["OPS"]},
    "pagerduty": {"token_env": "CANARY_PD_TOKEN"},
    "github": {"token_env": "CANARY_GH_TOKEN", "repos": ["acme/api"]},
}


@pytest.mark.parametrize("source", sorted(ECHO_SOURCES))
@pytest.mark.parametrize("status", [401, 500])
def test_credentials_echoed_by_a_server_are_redacted_from_exceptions_and_logs(source, status, tmp_path, monkeypatch,
                                                                               caplog):
    """A server (or a proxy) that repeats the request's Authorization header, and a Link with credentials."""
    from extractors import http

    for name, value in CANARY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(http, "RetryPolicy", functools.partial(http.RetryPolicy, backoff_base_s=0.01))
    caplog.set_level(logging.DEBUG)

    def echo(method, path, body, headers):
        # GitHub's REST lists: first page fine, with a credentialed next link (GraphQL pages get the echo at once)
        if "page=2" not in path and source == "github" and not path.startswith("/graphql"):
            link = f'<http://robot:{CANARY["CANARY_GH_TOKEN"]}@127.0.0.1:{server.server.server_address[1]}' \
                   f'/repos/acme/api/pulls?page=2&access_token=t0ps3cr3t>; rel="next"'
            return 200, {"Link": link}, []
        return status, {"WWW-Authenticate": headers.get("authorization", "")}, {
            "error": "nope", "you_sent": headers, "url": f"https://user:{CANARY['CANARY_PD_TOKEN']}@proxy/x"}

    server = ScriptedServer(echo)
    with server:
        raw = {"data_dir": str(tmp_path / "data"),
               "sources": {source: {"base_url": server.base_url, "max_attempts": 2, **ECHO_SOURCES[source]}}}
        from opskpi.config import parse_config

        config = parse_config(raw, tmp_path)
        ctx = pipeline.RunContext.for_date(config, RUN_DATE, "echo", now=NOW)
        with pytest.raises((ExtractError, PaginationError)) as err:
            pipeline.extract(config, source, ctx)
    assert len(server.requests) >= 1
    sent = server.requests[0]["headers"].get("authorization", "")
    assert any(secret in sent for secret in secrets()), "the canary was really sent (and echoed back)"
    rendered = "".join(traceback.format_exception(err.value)) + repr(err.value) + caplog.text
    assert not leaks({"exception and logs": rendered}, [*secrets(), "t0ps3cr3t"]), rendered[-3000:]
    assert "***" in rendered or status == 500  # a 401 body is quoted (redacted); a 500 only named


@pytest.mark.parametrize(("text", "hidden", "kept"), [
    ("GET https://bot:s3cret-pass@api.example.com/x?a=1", ["bot:", "s3cret-pass"], ["https://***@api.example.com/x?a=1"]),
    ("next: <https://api.example.com/x?page=2&access_token=abc123&per_page=5>", ["abc123"], ["per_page=5", "page=2"]),
    ("signed https://s3.example.com/o?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA", ["deadbeef", "AKIA"], []),
    ("https://u@host/p and plain text", ["u@host"], ["plain text"]),
    ("the token tok-1234567 again tok-1234567", ["tok-1234567"], ["the token *** again ***"]),
])
def test_redactor_masks_configured_secrets_and_credentials_in_urls(text, hidden, kept):
    out = Redactor(["tok-1234567"])(text)
    assert not any(h in out for h in hidden), out
    assert all(k in out for k in kept), out
