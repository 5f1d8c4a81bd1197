"""Security posture end to end: the pipeline against the emulator (non-default seed) equals the posture computed
independently from the alert lists.

The reference reads the three alert lists with plain `requests` (following `Link`, Dependabot by cursor) and
applies docs/metrics.md "Security posture" directly: severity mapping, closing times, open at the end of the day,
SLA breach, time to remediate of fixed/resolved alerts. Two runs (the shared ones of org_runs.py): a first full
one, then — after the clock moved a day, so alerts are fixed, dismissed, reopened and opened — an incremental one.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import requests

from tests.e2e.org_runs import DAY1, DAY2, GH, OrgRuns

pytestmark = pytest.mark.e2e
REPOS = ["acme/api", "acme/infra", "acme/mobile", "acme/web"]
SLA = {"critical": 15, "high": 30, "medium": 90, "low": 180}
PATHS = {"dependabot": "dependabot/alerts", "code_scanning": "code-scanning/alerts",
         "secret_scanning": "secret-scanning/alerts"}


def ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def read_all(url: str) -> list[dict] | None:
    """Every alert of one list (None when the scanner is not enabled: 404)."""
    out = []
    response = requests.get(url, headers=GH, params={"per_page": 100}, timeout=30)
    while True:
        if response.status_code == 404:
            return None
        response.raise_for_status()
        out += response.json()
        nxt = response.links.get("next", {}).get("url")
        if not nxt:
            return out
        response = requests.get(nxt, headers=GH, timeout=30)


def severity(tool: str, alert: dict) -> str:
    if tool == "dependabot":
        return alert["security_advisory"]["severity"]
    if tool == "code_scanning":
        rule = alert["rule"]
        mapped = {"error": "high", "warning": "medium", "note": "low"}
        return rule["security_severity_level"] or mapped[rule["severity"]]
    return "critical"


def closing(tool: str, alert: dict) -> tuple[datetime | None, bool]:
    """(closed_at, is_remediation)."""
    state = alert["state"]
    if state == "open":
        return None, False
    if tool == "secret_scanning":
        return ts(alert["resolved_at"]), alert["resolution"] == "revoked"
    at = {"fixed": "fixed_at", "dismissed": "dismissed_at", "auto_dismissed": "auto_dismissed_at"}[state]
    return ts(alert[at]), state == "fixed"


def reference(base: str, as_of: datetime) -> dict:
    alerts, disabled = {}, set()
    for repo in REPOS:
        for tool, path in PATHS.items():
            rows = read_all(f"{base}/github/repos/{repo}/{path}")
            if rows is None:
                disabled.add((repo, tool))
                continue
            for alert in rows:
                if ts(alert["created_at"]) > as_of:  # nothing after the run's as_of exists (fct_security_alerts)
                    continue
                closed_at, remediated = closing(tool, alert)
                alerts[f"{tool}:{repo}#{alert['number']}"] = {
                    "repo": repo, "tool": tool, "severity": severity(tool, alert), "created": ts(alert["created_at"]),
                    "closed": closed_at, "remediated": remediated}
    open_now = {k: a for k, a in alerts.items()
                if a["created"] < as_of and (a["closed"] is None or a["closed"] >= as_of)}
    breach = {k for k, a in open_now.items() if as_of > a["created"] + timedelta(days=SLA[a["severity"]])}
    start = as_of - timedelta(days=30)
    ttr = [(a["closed"] - a["created"]).total_seconds() for a in alerts.values()
           if a["remediated"] and start <= a["closed"] < as_of]
    return {
        "keys": set(alerts),
        "disabled": disabled,
        "open_by_cell": Counter((a["repo"], a["tool"], a["severity"]) for a in open_now.values()),
        "open_by_severity": Counter(a["severity"] for a in open_now.values()),
        "in_breach": len(breach),
        "sla_compliance": 100.0 * (len(open_now) - len(breach)) / len(open_now),
        "ttr_30d": (statistics.fmean(ttr), statistics.median(ttr), len(ttr)),
    }


def published(data_dir: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(data_dir / "published" / "opskpi.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def withdrawn(base: str, data_dir: Path, ref: dict) -> set[str]:
    """Published alerts that no list shows any more: each must be a Dependabot alert whose URL answers 410 Gone
    (GitHub withdrew it), not 404, and the warehouse must have closed it as withdrawn."""
    keys = {r[0] for r in published(data_dir, "select alert_key from marts.fct_security_alerts")}
    gone = keys - ref["keys"]
    for key in gone:
        tool, _, rest = key.partition(":")
        repo, _, number = rest.partition("#")
        assert tool == "dependabot", key
        answer = requests.get(f"{base}/github/repos/{repo}/dependabot/alerts/{number}", headers=GH, timeout=30)
        assert answer.status_code == 410, (key, answer.status_code)
    closed = {r[0] for r in published(data_dir, "select alert_key from marts.fct_security_alerts "
                                                "where close_reason = 'withdrawn'")}
    assert gone <= closed, sorted(gone - closed)
    return gone


def check(data_dir: Path, ref: dict, run_date: date, gone: set[str] = frozenset()) -> None:
    keys = {r[0] for r in published(data_dir, "select alert_key from marts.fct_security_alerts")} - gone
    assert keys == ref["keys"], (sorted(ref["keys"] - keys)[:5], sorted(keys - ref["keys"])[:5])
    cells = {(r[0], r[1], r[2]): r[3] for r in published(
        data_dir, "select repo, tool, severity, open from marts.mart_security_posture_daily "
                  f"where scope_type = 'repo' and day = '{run_date}'")}
    assert {(repo, tool) for repo, tool, _ in cells}.isdisjoint(ref["disabled"])
    assert {k: v for k, v in cells.items() if v} == dict(ref["open_by_cell"])
    coverage = {(r[0], r[1]) for r in published(
        data_dir, "select repo, tool from marts.mart_security_coverage where is_latest and not enabled")}
    assert coverage == ref["disabled"]
    kpis = {(r[0], r[1]): (r[2], r[3]) for r in published(
        data_dir, "select kpi, \"window\", value, sample_size from marts.kpi_daily_snapshot "
                  f"where snapshot_date = '{run_date}' and scope_type = 'org' and (kpi like 'alerts_%' "
                  "or kpi = 'sla_compliance' or kpi like 'time_to_remediate_%')")}
    for sev in SLA:
        assert kpis[(f"alerts_open_{sev}", "1d")][0] == ref["open_by_severity"][sev], sev
    assert kpis[("alerts_in_breach", "1d")][0] == ref["in_breach"]
    assert kpis[("sla_compliance", "1d")][0] == pytest.approx(ref["sla_compliance"])
    mean, p50, n = ref["ttr_30d"]
    assert kpis[("time_to_remediate_mean", "30d")] == (pytest.approx(mean), n)
    assert kpis[("time_to_remediate_p50", "30d")] == (pytest.approx(p50), n)


def test_security_posture_matches_the_api_after_a_full_and_an_incremental_run(org_runs: OrgRuns):
    assert sorted(org_runs.teams) == REPOS, "the runs read every repository the reference reads"
    with org_runs.api(DAY1) as base:
        first = reference(base, datetime(2026, 11, 20, tzinfo=UTC))
        assert not withdrawn(base, org_runs.data_dir(DAY1), first)
    assert first["disabled"] == {("acme/mobile", "code_scanning"), ("acme/infra", "secret_scanning")}
    assert first["in_breach"] > 0 and first["open_by_severity"]["critical"] > 0
    check(org_runs.data_dir(DAY1), first, DAY1)

    with org_runs.api(DAY2) as base:
        second = reference(base, datetime(2026, 11, 21, tzinfo=UTC))
        # the emulator withdraws one acme/api alert between the runs: only the complete open walk shows it
        gone = withdrawn(base, org_runs.data_dir(DAY2), second)
    assert len(gone) == 1, gone
    check(org_runs.data_dir(DAY2), second, DAY2, gone)


def test_patch_compliance_is_filled_and_agrees_with_the_posture(org_runs: OrgRuns):
    """mart_patch_compliance_daily on the second run: decisions were made, and with the default clock
    (alert_created) past policy is the posture's Dependabot in_breach on every day and scope."""
    data_dir = org_runs.data_dir(DAY2)
    (decided, met, fixes), = published(data_dir, "select sum(decided), sum(met), sum(time_to_patch_sample_size) "
                                                 "from marts.mart_patch_compliance_daily "
                                                 "where scope_type = 'org' and severity = 'all'")
    assert decided > 0 and 0 < met < decided and fixes > 0
    differ = published(data_dir, """
        select count(*) from marts.mart_patch_compliance_daily p
        join marts.mart_security_posture_daily s
            on s.tool = 'dependabot' and (s.day, s.scope_type, s.scope_id, s.severity)
                = (p.day, p.scope_type, p.scope_id, p.severity)
        where p.past_policy <> s.in_breach or p.open <> s.open""")
    assert differ == [(0,)]
