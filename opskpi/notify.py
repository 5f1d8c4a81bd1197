"""Delivering a message to people: a Slack-compatible webhook and SMTP e-mail.

Plain functions without Airflow, so the Airflow notifiers (dags/opskpi_notifiers.py) and the
report delivery share one tested implementation. Neither ever includes credentials in what it
raises.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import requests


class DeliveryError(RuntimeError):
    pass


def post_webhook(url: str, text: str, timeout_s: float = 10.0) -> None:
    """Slack-compatible incoming webhook: a JSON body with `text` (Mattermost, Rocket.Chat, Teams bridges)."""
    try:
        response = requests.post(url, json={"text": text}, timeout=timeout_s)
    except requests.RequestException as exc:
        raise DeliveryError(f"webhook delivery failed: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise DeliveryError(f"webhook answered HTTP {response.status_code}")


def send_email(host: str, port: int, sender: str, recipients: list[str], subject: str, body: str, *,
               user: str | None = None, password: str | None = None, starttls: bool = False,
               timeout_s: float = 10.0) -> None:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(body)
    try:
        with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
            if starttls:
                smtp.starttls()
            if user:
                smtp.login(user, password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"e-mail delivery via {host}:{port} failed: {type(exc).__name__}") from None
