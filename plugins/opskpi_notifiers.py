"""Airflow notifiers for failed and late runs, configured by connections.

In plugins/ because that folder is on sys.path of every Airflow component, the triggerer included
(deadline callbacks run there); the DAG imports it by name.

- `opskpi_webhook`: an HTTP connection whose host (with schema/port/path in `extra.url` or host)
  is a Slack-compatible incoming webhook URL;
- `opskpi_smtp`: an SMTP connection (host, port, login, password; `extra`: `from`, `to` list,
  `starttls`).

A notifier whose connection does not exist does nothing: notifications are opt-in.
"""

from __future__ import annotations

import logging

from airflow.sdk.bases.notifier import BaseNotifier

log = logging.getLogger(__name__)

WEBHOOK_CONN = "opskpi_webhook"
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
    def __init__(self, message: str | None = None, conn_id: str = WEBHOOK_CONN):
        super().__init__()
        self.message = message
        self.conn_id = conn_id

    def notify(self, context) -> None:
        from opskpi.notify import post_webhook

        conn = _connection(self.conn_id)
        if conn is None:
            return
        post_webhook(webhook_url(conn), self.message or _describe(context))


class OpsKpiEmailNotifier(BaseNotifier):
    def __init__(self, subject: str | None = None, conn_id: str = SMTP_CONN):
        super().__init__()
        self.subject = subject
        self.conn_id = conn_id

    def notify(self, context) -> None:
        from opskpi.notify import send_email

        conn = _connection(self.conn_id)
        if conn is None:
            return
        extra = conn.extra_dejson or {}
        text = _describe(context)
        send_email(conn.host, int(conn.port or 25), extra.get("from", "opskpi@localhost"), list(extra.get("to", [])),
                   self.subject or text, text, user=conn.login or None, password=conn.password or None,
                   starttls=bool(extra.get("starttls")))


def notify_failure(context) -> None:
    """DAG-level on_failure_callback: every configured channel, one failure never hiding another."""
    for notifier in (OpsKpiWebhookNotifier(), OpsKpiEmailNotifier()):
        try:
            notifier.notify(context)
        except Exception as exc:  # noqa: BLE001 - a broken channel must not mask the run's own failure
            log.warning("notification via %s failed: %s", type(notifier).__name__, exc)


async def deadline_missed(**kwargs) -> None:
    """Deadline alert callback (runs in the triggerer): the nightly run is late."""
    from opskpi.notify import post_webhook

    conn = _connection(WEBHOOK_CONN)
    if conn is not None:
        post_webhook(webhook_url(conn), f"opskpi: the nightly run is late ({kwargs.get('dag_id', 'ops_kpi_daily')})")
