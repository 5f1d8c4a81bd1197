"""Failed and late runs, reported through Airflow's own notifiers, each configured by one connection.

In plugins/ because that folder is on sys.path of every Airflow component, the triggerer included
(deadline callbacks run there); the DAG imports it by name.

- `opskpi_slack`: a Slack incoming webhook (connection type `slackwebhook`, the webhook URL or token in
  the password) → the Slack provider's `SlackWebhookNotifier`;
- `opskpi_smtp`: an SMTP connection (host, port, login, password; `extra`: `to` list, `from_email`,
  `disable_ssl`, `disable_tls`) → the SMTP provider's `SmtpNotifier`;
- `opskpi_webhook`: any other Slack-compatible webhook (Mattermost, Rocket.Chat, Teams bridges: a JSON
  body with `text`), an HTTP connection with the URL in `extra.url`. No provider ships a generic webhook
  notifier, so this one posts with `opskpi.notify.post_webhook`.

A channel whose connection does not exist is skipped: notifications are opt-in. One channel failing
never stops the others, nor hides the run's own failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from html import escape

from airflow.sdk.bases.notifier import BaseNotifier

log = logging.getLogger(__name__)

WEBHOOK_CONN = "opskpi_webhook"
SLACK_CONN = "opskpi_slack"
SMTP_CONN = "opskpi_smtp"


def _connection(conn_id: str):
    from airflow.sdk import Connection

    try:
        return Connection.get(conn_id)
    except Exception:  # noqa: BLE001 - "not configured" comes as several exception types
        return None


def _describe(context) -> str:
    dag_run = context.get("dag_run")
    ti = context.get("task_instance") or context.get("ti")
    run_id = getattr(dag_run, "run_id", "?")
    task = getattr(ti, "task_id", None)
    where = f" at task {task}" if task else ""
    return f"opskpi: run {run_id} of {getattr(dag_run, 'dag_id', 'ops_kpi_daily')} failed{where}"


def webhook_url(conn) -> str:
    extra = conn.extra_dejson or {}
    if extra.get("url"):
        return extra["url"]
    scheme = conn.schema or "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{conn.host}{port}"


class OpsKpiWebhookNotifier(BaseNotifier):
    """The generic Slack-compatible webhook (`{"text": …}`) of an HTTP connection."""

    template_fields = ("message",)

    def __init__(self, message: str, conn_id: str = WEBHOOK_CONN):
        super().__init__()
        self.message = message
        self.conn_id = conn_id

    def notify(self, context) -> None:
        from opskpi.notify import post_webhook

        post_webhook(webhook_url(_connection(self.conn_id)), self.message)


def _slack(conn, text: str) -> BaseNotifier:
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    return SlackWebhookNotifier(slack_webhook_conn_id=conn.conn_id, text=text)


def _email(conn, text: str) -> BaseNotifier:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    extra = conn.extra_dejson or {}
    return SmtpNotifier(to=list(extra.get("to", [])), from_email=extra.get("from_email", "opskpi@localhost"),
                        subject=text, html_content=f"<p>{escape(text)}</p>", smtp_conn_id=conn.conn_id)


def _webhook(conn, text: str) -> BaseNotifier:
    return OpsKpiWebhookNotifier(text, conn.conn_id)


CHANNELS: dict[str, Callable] = {WEBHOOK_CONN: _webhook, SLACK_CONN: _slack, SMTP_CONN: _email}


def configured_notifiers(text: str) -> list[BaseNotifier]:
    """One provider notifier per channel whose connection exists, each carrying `text`."""
    notifiers = []
    for conn_id, build in CHANNELS.items():
        conn = _connection(conn_id)
        if conn is not None:
            notifiers.append(build(conn, text))
    return notifiers


def _send_all(text: str, context) -> int:
    sent = 0
    for notifier in configured_notifiers(text):
        try:
            notifier.notify(context)
            sent += 1
        except Exception as exc:  # noqa: BLE001 - a broken channel must not mask the run's own failure
            # the error's type only: a provider's message may carry the webhook URL, which is a secret
            log.warning("notification via %s failed: %s", type(notifier).__name__, type(exc).__name__)
    return sent


def notify_failure(context) -> None:
    """DAG-level on_failure_callback: every configured channel."""
    _send_all(_describe(context), context)


async def deadline_missed(**kwargs) -> None:
    """Deadline alert callback (runs in the triggerer): the nightly run is late. The notifiers are called as
    they are in a task, synchronously: the connections are read through the triggerer's own channel."""
    _send_all(f"opskpi: the nightly run is late ({kwargs.get('dag_id', 'ops_kpi_daily')})", dict(kwargs))
