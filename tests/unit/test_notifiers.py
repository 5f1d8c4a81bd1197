"""Failed and late runs reach every configured channel through Airflow's notifiers (plugins/opskpi_notifiers.py).

The notifiers run in a child process with its own AIRFLOW_HOME (Airflow writes its config there on import)
and connections from AIRFLOW_CONN_* variables, as a deployment sets them: a Slack incoming webhook
(the Slack provider's SlackWebhookNotifier), SMTP (the SMTP provider's SmtpNotifier) and a generic
Slack-compatible webhook. Sinks on loopback ports record what arrives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.mail_sink import smtp_server  # noqa: F401 - a fixture
from tests.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import asyncio, sys, types
sys.path.insert(0, {plugins!r})
import opskpi_notifiers as n
context = {{"dag_run": types.SimpleNamespace(run_id="manual__2026-11-19", dag_id="ops_kpi_daily"),
           "ti": types.SimpleNamespace(task_id="dbt_build")}}
n.notify_failure(context)
asyncio.run(n.deadline_missed(dag_id="ops_kpi_daily"))
print(sorted(type(x).__name__ for x in n.configured_notifiers("probe")))
"""


def run_notifiers(tmp_path: Path, connections: dict[str, dict]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    env.update({f"AIRFLOW_CONN_{name.upper()}": json.dumps(conn) for name, conn in connections.items()})
    return subprocess.run([sys.executable, "-c", CHILD.format(plugins=str(REPO / "plugins"))], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=180)


def test_failed_and_late_runs_reach_slack_email_and_webhook(tmp_path, smtp_server):  # noqa: F811
    port, mailbox = smtp_server
    ok = lambda method, path, body, headers: (200, {}, "ok")  # noqa: E731 - Slack answers a plain "ok"
    with ScriptedServer(ok) as slack, ScriptedServer(ok) as webhook:
        done = run_notifiers(tmp_path, {
            "opskpi_slack": {"conn_type": "slackwebhook", "password": f"{slack.base_url}/services/T0/B0/secret"},
            "opskpi_smtp": {"conn_type": "smtp", "host": "127.0.0.1", "port": port,
                            "extra": {"to": ["oncall@example.com"], "from_email": "opskpi@example.com",
                                      "disable_ssl": True, "disable_tls": True}},
            "opskpi_webhook": {"conn_type": "http", "extra": {"url": f"{webhook.base_url}/hook"}},
        })
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.strip().splitlines()[-1] == str(
            ["OpsKpiWebhookNotifier", "SlackWebhookNotifier", "SmtpNotifier"])
        failed = "opskpi: run manual__2026-11-19 of ops_kpi_daily failed at task dbt_build"
        late = "opskpi: the nightly run is late (ops_kpi_daily)"
        assert [(r["path"], r["json"]["text"]) for r in slack.requests] == [
            ("/services/T0/B0/secret", failed), ("/services/T0/B0/secret", late)]
        assert [(r["path"], r["json"]) for r in webhook.requests] == [("/hook", {"text": failed}),
                                                                     ("/hook", {"text": late})]
    assert [(m["To"], m["From"], m["Subject"]) for m in mailbox.messages] == [
        ("oncall@example.com", "opskpi@example.com", failed), ("oncall@example.com", "opskpi@example.com", late)]


def test_no_connection_no_notification_and_a_broken_channel_hides_nothing(tmp_path):
    down = lambda method, path, body, headers: (500, {}, "no")  # noqa: E731
    ok = lambda method, path, body, headers: (200, {}, "ok")  # noqa: E731
    with ScriptedServer(down) as slack, ScriptedServer(ok) as webhook:
        done = run_notifiers(tmp_path, {
            "opskpi_slack": {"conn_type": "slackwebhook", "password": f"{slack.base_url}/services/T0/B0/secret"},
            "opskpi_webhook": {"conn_type": "http", "extra": {"url": f"{webhook.base_url}/hook"}},
        })
        assert done.returncode == 0, done.stderr[-3000:]
        assert len(webhook.requests) == 2, "the failing Slack channel does not stop the webhook"
        assert "secret" not in done.stderr + done.stdout, "the webhook URL is a secret and is never logged"
    nothing = run_notifiers(tmp_path, {})
    assert nothing.returncode == 0, nothing.stderr[-3000:]
    assert nothing.stdout.strip().splitlines()[-1] == "[]"
