"""Deterministic GitHub security alerts: Dependabot, code scanning and secret scanning, per repository.

An alert is its creation and a list of events (fixed, dismissed, auto_dismissed, resolved, reopened); the state at
the clock is folded from them, so advancing the clock fixes, dismisses and reopens alerts and moves `updated_at`,
which is what an incremental `sort=updated` extractor must follow. Every alert draws from its own random stream
(`rng(seed, "security", tool, repo, n)`), so nothing here changes any other emulated record.

Planted relative to the start clock (in acme/api, every seed):
- Dependabot critical opened and fixed the same day (4 days before the clock);
- Dependabot high opened 40 days before the clock and still open (past its 30-day SLA);
- Dependabot medium dismissed 12 days before the clock and reopened 5 days before it (open again);
- Dependabot low opened 200 days before the clock, still open (past its 180-day SLA);
- code scanning alert of a non-security rule (`rule.severity` `warning`, no `security_severity_level`).
Withdrawn (acme/api, every seed): the oldest alert there that nobody ever closes has its advisory withdrawn 12 h
after the start clock and the alert itself withdrawn 6 h later. In between the lists still show it, with
`security_advisory.withdrawn_at` set; from then on it is in no list and its own URL answers 410 Gone (GitHub changelog
2026-10-13). Neither moves the alert's `updated_at` (GitHub documents no such thing), so only a complete `state=open`
walk, or the alert's URL, shows the withdrawal. The run after the next day's clock advance sees it gone.
Code scanning is not enabled on acme/mobile (404 "no analysis found"), secret scanning is disabled on acme/infra
(404 "Secret scanning is disabled on this repository.").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from emulator.ids import rng
from emulator.timefmt import DAY, HOUR, MINUTE, SECOND
from emulator.timeline import Window, arrivals, pick_duration, weighted

TOOLS = ("dependabot", "code_scanning", "secret_scanning")
SEVERITIES = ("critical", "high", "medium", "low")
# repository kind -> tools that are not enabled there
DISABLED = {"mobile": ("code_scanning",), "infra": ("secret_scanning",)}
# alerts per day per repository and tool (the repo's weight scales them)
_RATES = {"dependabot": 0.9, "code_scanning": 0.5, "secret_scanning": 0.12}
# alerts exist from this long before the generated window (old, still-open alerts)
_PRE_HISTORY = 240 * DAY

PACKAGES = (
    ("pip", "django", "requirements.txt"), ("pip", "requests", "requirements.txt"),
    ("pip", "urllib3", "requirements.txt"), ("npm", "lodash", "package-lock.json"),
    ("npm", "axios", "package-lock.json"), ("npm", "next", "package-lock.json"),
    ("maven", "com.fasterxml.jackson.core:jackson-databind", "build.gradle"),
    ("go", "golang.org/x/net", "go.mod"),
)
RULES = (  # id, name, rule.severity, security_severity_level (None: a quality rule, not a security query)
    ("py/sql-injection", "Database query built from user-controlled sources", "error", "critical"),
    ("js/xss", "Client-side cross-site scripting", "error", "high"),
    ("py/path-injection", "Uncontrolled data used in path expression", "error", "high"),
    ("js/insecure-randomness", "Insecure randomness", "warning", "medium"),
    ("py/clear-text-logging-sensitive-data", "Clear-text logging of sensitive information", "error", "low"),
    ("js/unused-local-variable", "Unused variable, import, function or class", "note", None),
    ("py/empty-except", "Empty except", "warning", None),
    ("js/missing-rate-limiting", "Missing rate limiting", "error", None),
)
SECRET_TYPES = (
    ("github_personal_access_token", "GitHub Personal Access Token", "ghp_"),
    ("aws_access_key_id", "AWS Access Key ID", "AKIA"),
    ("slack_incoming_webhook_url", "Slack Incoming Webhook URL", "https://hooks.slack.com/services/"),
    ("stripe_api_key", "Stripe API Key", "sk_live_"),
)
DEPENDABOT_DISMISS = ("fix_started", "inaccurate", "no_bandwidth", "not_used", "tolerable_risk")
CODE_DISMISS = ("false positive", "won't fix", "used in tests")
SECRET_RESOLUTIONS = ("revoked", "false_positive", "wont_fix", "used_in_tests", "pattern_edited", "pattern_deleted")
# Typical days to fix per severity: (weight, low, high) buckets in seconds.
_FIX_TIMES = {
    "critical": ((0.5, 2 * HOUR, 3 * DAY), (0.4, 3 * DAY, 15 * DAY), (0.1, 15 * DAY, 40 * DAY)),
    "high": ((0.4, 6 * HOUR, 7 * DAY), (0.4, 7 * DAY, 30 * DAY), (0.2, 30 * DAY, 70 * DAY)),
    "medium": ((0.3, DAY, 20 * DAY), (0.5, 20 * DAY, 90 * DAY), (0.2, 90 * DAY, 160 * DAY)),
    "low": ((0.3, DAY, 40 * DAY), (0.5, 40 * DAY, 180 * DAY), (0.2, 180 * DAY, 260 * DAY)),
}


@dataclass(frozen=True)
class Alert:
    tool: str
    repo_index: int
    number: int
    created_ms: int
    severity: str | None  # Dependabot advisory severity; code scanning security_severity_level (None: quality rule)
    variant: int  # index into PACKAGES / RULES / SECRET_TYPES
    events: tuple[tuple[int, str, str | None], ...]  # (at, fixed|dismissed|auto_dismissed|resolved|reopened, detail)
    scenario: str | None = None
    advisory_withdrawn_ms: int | None = None  # the advisory's `withdrawn_at`
    withdrawn_ms: int | None = None  # Dependabot withdraws the alert: gone from every list, 410 on its URL


@dataclass(frozen=True)
class AlertState:
    # dependabot: open|fixed|dismissed|auto_dismissed; code scanning: open|fixed|dismissed; secret: open|resolved
    state: str
    updated_ms: int
    fixed_ms: int | None = None
    dismissed_ms: int | None = None
    auto_dismissed_ms: int | None = None
    resolved_ms: int | None = None
    detail: str | None = None  # dismissed_reason / resolution


def is_withdrawn(alert: Alert, now_ms: int) -> bool:
    return alert.withdrawn_ms is not None and alert.withdrawn_ms <= now_ms


def advisory_withdrawn_at(alert: Alert, now_ms: int) -> int | None:
    """The advisory's `withdrawn_at` as the API shows it at `now_ms` (None until it is withdrawn)."""
    at = alert.advisory_withdrawn_ms
    return at if at is not None and at <= now_ms else None


def alert_state(alert: Alert, now_ms: int) -> AlertState | None:
    """The alert as the API shows it at `now_ms` (None before it exists, and once withdrawn: no list shows it). A
    reopen clears the closing fields."""
    if alert.created_ms > now_ms or is_withdrawn(alert, now_ms):
        return None
    st = AlertState("open", alert.created_ms)
    for at, kind, detail in alert.events:
        if at > now_ms:
            break
        if kind == "reopened":
            st = AlertState("open", at)
        elif kind == "fixed":
            st = AlertState("fixed", at, fixed_ms=at)
        elif kind == "dismissed":
            st = AlertState("dismissed", at, dismissed_ms=at, detail=detail)
        elif kind == "auto_dismissed":
            st = AlertState("auto_dismissed", at, auto_dismissed_ms=at)
        elif kind == "resolved":
            st = AlertState("resolved", at, resolved_ms=at, detail=detail)
    return st


def repo_kind_name(name: str) -> str:
    return name.split("-")[0]


def enabled(repo_name: str, tool: str) -> bool:
    return tool not in DISABLED.get(repo_kind_name(repo_name), ())


def _lifecycle(r, tool: str, severity: str, created: int, open_share: float = 0.16,
               fix_time: float = 1.0) -> tuple[tuple[int, str, str | None], ...]:
    ttc = pick_duration(r, _FIX_TIMES[severity])
    if fix_time != 1.0:
        ttc = int(ttc * fix_time)
    fix_share = 0.55 if open_share == 0.16 else 0.71 - open_share  # the stress profile's weights, exactly
    outcome = weighted(r, [(fix_share, "fix"), (0.15, "dismiss"), (0.08 if tool == "dependabot" else 0.0, "auto"),
                           (0.06, "reopen"), (open_share, "open")])
    if outcome == "open":
        return ()
    at = created + max(MINUTE, ttc // SECOND * SECOND)
    if outcome == "fix":
        return ((at, "resolved", "revoked") if tool == "secret_scanning" else (at, "fixed", None),)
    if outcome == "auto":
        return ((at, "auto_dismissed", None),)
    dismiss = _dismissal(r, tool)
    if outcome == "dismiss":
        return (dismiss(at),)
    reopen = at + r.randint(1, 20) * DAY
    events = [dismiss(at), (reopen, "reopened", None)]
    if r.random() < 0.5:
        fix_at = reopen + r.randint(1, 30) * DAY
        events.append((fix_at, "resolved", "revoked") if tool == "secret_scanning" else (fix_at, "fixed", None))
    return tuple(events)


def _dismissal(r, tool: str):
    if tool == "secret_scanning":
        # Only these appear as an alert's `resolution` in GitHub's OpenAPI description (pattern_edited and
        # pattern_deleted are accepted as filter values but never reported): githubkit's referee enforces it.
        reason = r.choice(("false_positive", "wont_fix", "used_in_tests"))
        return lambda at: (at, "resolved", reason)
    reason = r.choice(DEPENDABOT_DISMISS if tool == "dependabot" else CODE_DISMISS)
    return lambda at: (at, "dismissed", reason)


@dataclass
class SecurityData:
    seed: int
    window: Window
    repos: tuple  # GhRepo
    rate_scale: float = 1.0  # bulk scales (timeline.Scale.security_rate_scale): more alerts per repository
    open_share: float = 0.16  # the profile's (timeline.Profile): alerts nobody closes
    fix_time: float = 1.0  # the profile's: multiplies the days to fix

    @cached_property
    def alerts(self) -> dict[tuple[int, str], tuple[Alert, ...]]:
        """(repo index, tool) -> alerts in number order (only for scanners that are enabled)."""
        out = {}
        for repo in self.repos:
            for tool in TOOLS:
                if enabled(repo.name, tool):
                    out[(repo.index, tool)] = self._build(repo, tool)
        return out

    def _build(self, repo, tool: str) -> tuple[Alert, ...]:
        arr = rng(self.seed, "security", tool, repo.index, "arrivals")
        times = [(t, None) for t in arrivals(arr, self.window.start_ms - _PRE_HISTORY, self.window.end_ms,
                                             _RATES[tool] * repo.weight * self.rate_scale)]
        a = self.window.anchor_ms
        if repo_kind_name(repo.name) == "api" and repo.index < 4:
            if tool == "dependabot":
                times += [(a - 200 * DAY, "old_low_open"), (a - 40 * DAY, "high_past_sla"),
                          (a - 20 * DAY, "reopened"), (a - 4 * DAY - 6 * HOUR, "same_day_fix")]
            if tool == "code_scanning":
                times.append((a - 9 * DAY, "quality_rule"))
        times.sort(key=lambda x: (x[0], x[1] or ""))
        alerts = []
        for n, (created, scenario) in enumerate(times):
            r = rng(self.seed, "security", tool, repo.index, n)
            severity: str | None = weighted(r, [(0.1, "critical"), (0.3, "high"), (0.4, "medium"), (0.2, "low")])
            variant = r.randrange(len(PACKAGES if tool == "dependabot" else RULES if tool == "code_scanning"
                                      else SECRET_TYPES))
            if tool == "code_scanning":
                severity = RULES[variant][3]
            elif tool == "secret_scanning":
                severity = "critical"
            events = _lifecycle(r, tool, severity or "medium", created, self.open_share, self.fix_time)
            if scenario == "same_day_fix":
                severity, events = "critical", ((created + 5 * HOUR, "fixed", None),)
            elif scenario == "high_past_sla":
                severity, events = "high", ()
            elif scenario == "old_low_open":
                severity, events = "low", ()
            elif scenario == "reopened":
                severity, events = "medium", ((a - 12 * DAY, "dismissed", "tolerable_risk"),
                                              (a - 5 * DAY, "reopened", None))
            elif scenario == "quality_rule":
                variant, severity, events = 6, None, ()
            alerts.append(Alert(tool, repo.index, n + 1, created, severity, variant, events, scenario))
        if tool == "dependabot" and repo_kind_name(repo.name) == "api" and repo.index < 4:
            _plant_withdrawal(alerts, a)
        return tuple(alerts)


def _plant_withdrawal(alerts: list[Alert], anchor_ms: int) -> None:
    """Withdraw the oldest alert that is never closed and is not planted for another scenario (see the module
    docstring): chosen from the data, so no random draw and no other alert changes."""
    for i, alert in enumerate(alerts):
        if alert.scenario is None and not alert.events and alert.created_ms < anchor_ms:
            alerts[i] = replace(alert, scenario="withdrawn", advisory_withdrawn_ms=anchor_ms + 12 * HOUR,
                                withdrawn_ms=anchor_ms + 18 * HOUR)
            return


def build_security(seed: int, window: Window, repos: tuple, rate_scale: float = 1.0, open_share: float = 0.16,
                   fix_time: float = 1.0) -> SecurityData:
    return SecurityData(seed, window, repos, rate_scale, open_share, fix_time)
