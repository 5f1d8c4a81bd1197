"""Deterministic alerts of a PagerDuty incident (`GET /incidents/{id}/alerts`), and who triggered it.

Drawn from their own random stream (`rng(seed, "detection", n)`), so adding them changed no other generated value.
What an alert carries that the detection KPI reads (docs/metrics.md "Time to detect"):

- `created_at`: PagerDuty's receipt. The first alert opens the incident (its `created_at` is the incident's);
  later ones are grouped into it while it is open.
- `body.cef_details`: an Events API v2 alert's PD-CEF view, whose `creation_time` is the event's
  `payload.timestamp` (the monitor's event time); `null` for e-mail alerts. The variety the KPI must survive:
  most events stamped a little before receipt; some without `payload.timestamp` (`creation_time` null); some a
  few minutes after receipt (clock skew: clamped to 0); some hours after (a wrong clock or a local time read as
  UTC: an invalid stamp); some without an offset (not a timestamp the KPI accepts).
- A share of incidents is opened by a person in the web UI (`web_trigger`, agent `user_reference`): they have no
  alerts at all (`alert_counts.all` = 0), which lets the extractor skip the alerts request.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from emulator.ids import hex_id, pd_id, rng
from emulator.timefmt import HOUR, MINUTE, SECOND
from emulator.timeline import pick_duration, weighted

HUMAN_TRIGGER_SHARE = 0.08
# How the monitor stamped the event: (weight, kind). `events_v2` events carry payload.timestamp.
_KINDS = (
    (0.74, "events_v2"),
    (0.12, "email"),
    (0.05, "events_v2_no_timestamp"),
    (0.04, "events_v2_skewed"),  # a few minutes after receipt: clamped
    (0.03, "events_v2_invalid"),  # hours after receipt: invalid
    (0.02, "events_v2_naive"),  # no UTC offset: not a timestamp the KPI accepts
)
# How long before PagerDuty received it the monitor saw the problem.
_EVENT_LEAD = ((0.6, 30 * SECOND, 5 * MINUTE), (0.3, 5 * MINUTE, 20 * MINUTE), (0.1, 20 * MINUTE, 2 * HOUR))


@dataclass(frozen=True)
class PdAlert:
    id: str
    alert_key: str
    created_ms: int
    kind: str
    event_ms: int | None  # the monitor's event time (creation_time), None when the event carried none
    severity: str


def human_trigger(seed: int, n: int, scenario: str | None) -> bool:
    """Whether incident n was opened by a person (web UI) instead of a monitoring integration."""
    if scenario is not None:
        return scenario == "human_trigger"
    return rng(seed, "detection", n).random() < HUMAN_TRIGGER_SHARE


def build_alerts(seed: int, n: int, created_ms: int, open_until_ms: int, count: int,
                 planted_lead_ms: int | None = None) -> tuple[PdAlert, ...]:
    """`count` alerts of incident n: the first received at its creation, the others grouped in before
    `open_until_ms` (its first resolution). `planted_lead_ms`: a planted incident's single well-stamped alert."""
    r = rng(seed, "detection", n)
    r.random()  # the human_trigger draw
    out = []
    for i in range(count):
        received = created_ms
        if i > 0:
            span = max(1, (open_until_ms - created_ms) // SECOND - 1)
            received = created_ms + r.randint(1, span) * SECOND
        kind = "events_v2" if planted_lead_ms is not None else weighted(r, _KINDS)
        out.append(PdAlert(
            id=pd_id("Q", 14, seed, "alert", n, i),
            alert_key=hex_id(32, seed, "alert-key", n, i),
            created_ms=received,
            kind=kind,
            event_ms=_event_time(r, kind, received, planted_lead_ms),
            severity=weighted(r, [(0.3, "critical"), (0.4, "error"), (0.25, "warning"), (0.05, "info")]),
        ))
    return tuple(out)


def _event_time(r: random.Random, kind: str, received: int, planted_lead_ms: int | None) -> int | None:
    if planted_lead_ms is not None:
        return received - planted_lead_ms
    if kind in ("events_v2", "events_v2_naive"):
        return received - pick_duration(r, _EVENT_LEAD) // SECOND * SECOND
    if kind == "events_v2_skewed":
        return received + r.randint(10, 240) * SECOND
    if kind == "events_v2_invalid":
        return received + r.choice((2, 5, 9)) * HOUR
    return None
