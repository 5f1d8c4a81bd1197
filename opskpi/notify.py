"""Posting a message to a Slack-compatible webhook: the one channel no Airflow provider covers generically.

Used by the report delivery (opskpi/report/deliver.py) and the `opskpi_webhook` Airflow notifier
(plugins/opskpi_notifiers.py); Slack itself and e-mail go through the Slack and SMTP providers' notifiers.
The webhook URL is a secret: nothing raised here names it, and a redirect is never followed.
"""

from __future__ import annotations

import requests


class DeliveryError(RuntimeError):
    """A channel failed (for the report: at least one; the others were still attempted)."""


def post_webhook(url: str, text: str, timeout_s: float = 20.0) -> None:
    """Slack-compatible incoming webhook: a JSON body with `text` (Mattermost, Rocket.Chat, Teams bridges)."""
    try:
        response = requests.post(url, json={"text": text}, timeout=timeout_s, allow_redirects=False)
    except requests.RequestException as exc:
        raise DeliveryError(f"webhook not reachable: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"webhook answered HTTP {response.status_code}")
