"""Optional delivery of a day's report after a successful run: a Slack-compatible webhook and e-mail (SMTP).

Each channel runs only when configured (`report.slack_webhook_env`, `report.email_to`). Secrets come from the
environment variables the config names and never appear in a message or an error. A channel that delivered
for a run is recorded in `<report_dir>/.deliveries/<date>.json` and skipped when the step is retried, so an
Airflow retry after a failure of one channel does not post twice on the other.
"""

from __future__ import annotations

import json
import logging
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from opskpi.config import ConfigError, ReportConfig, read_secret
from opskpi.notify import DeliveryError, post_webhook

__all__ = ["DeliveryError", "deliver"]

log = logging.getLogger(__name__)
TIMEOUT_S = 20


def _header(text: str) -> str:
    return " ".join(str(text).split())  # no CR/LF: nothing can be smuggled into the headers


def send_email(cfg: ReportConfig, subject: str, text: str, html: str) -> None:
    message = EmailMessage()
    message["Subject"] = _header(subject)
    message["From"] = _header(cfg.email_from)
    message["To"] = ", ".join(_header(a) for a in cfg.email_to)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    password = (read_secret(cfg.smtp_password_env, "report.smtp_password_env", "the SMTP password")
                if cfg.smtp_password_env else None)
    try:
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=TIMEOUT_S) as smtp:
            if cfg.smtp_starttls:
                smtp.starttls()
            if cfg.smtp_username and password:
                smtp.login(cfg.smtp_username, password)
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"e-mail via {cfg.smtp_host}:{cfg.smtp_port} failed: {type(exc).__name__}") from None


def deliver(cfg: ReportConfig, day_dir: Path, run_id: str, subject: str, chat_text: str) -> dict[str, Any]:
    """Send the report in `day_dir` on every configured channel not yet delivered for run_id."""
    marker = day_dir.parent / ".deliveries" / f"{day_dir.name}.json"
    done: dict[str, str] = json.loads(marker.read_text()) if marker.exists() else {}
    channels = {}
    if cfg.slack_webhook_env:
        channels["webhook"] = lambda: post_webhook(read_secret(cfg.slack_webhook_env, "report.slack_webhook_env",
                                                               "the webhook URL"),
                                                   chat_text)
    if cfg.email_to:
        channels["email"] = lambda: send_email(cfg, subject, (day_dir / "summary.md").read_text(),
                                               (day_dir / "index.html").read_text())
    outcome: dict[str, Any] = {}
    errors = []
    for name, send in channels.items():
        if done.get(name) == run_id:
            outcome[name] = "already delivered"
            continue
        try:
            send()
        except (DeliveryError, ConfigError) as exc:
            outcome[name] = f"failed: {exc}"
            errors.append(f"{name}: {exc}")
            log.error("report delivery by %s failed: %s", name, exc)
            continue
        done[name] = run_id
        outcome[name] = "delivered"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(done))
    if errors:
        raise DeliveryError("report delivery failed: " + "; ".join(errors))
    return outcome
