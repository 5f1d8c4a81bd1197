"""Patch-policy compliance and withdrawn Dependabot alerts: the hand-built records test_dbt_security.py adds to its
two nights (contract: kpi-definitions-wave2.md §3; docs/metrics.md "Patch compliance").

Repositories acme/pay and acme/ops, team payments; default days critical 15, high 30, medium 90, low 180; UTC.
`published` is created - 1 day unless said. Night 1: as_of 11-05 00:00; night 2: as_of 11-11 00:00 (each night's
complete state=open walk, stream dependabot_open_alerts, is in NIGHT*_ROWS and WALKS*). Then a backfill of 10-20
(as_of 10-21 00:00) with patch_clock advisory_published, on a copy of the warehouse.

  P1  critical created 10-01, fixed 10-16 00:00 = its deadline       -> met on 10-16, time to patch 1 296 000 s (case 1)
  P2  critical created 10-01, fixed 10-20                            -> missed on 10-16; 1 641 600 s on 10-20 (case 2)
  P3  critical created 10-01, dismissed 10-03                        -> dismissed_before_due on 10-03 (case 3)
  P4  critical created 10-01, dismissed 10-20                        -> missed on 10-16 (case 3)
  P5  high created 10-10, published 08-31 (40 days before), open     -> alert_created: due 11-09, missed then;
                                                                        advisory_published: due 09-30, missed on
                                                                        10-10 and past policy from then on (case 4)
  P6  critical created 10-05, open; walk 1 lists it, walk 2 does not -> withdrawn at 11-11 00:00 (night 2's as_of):
                                                                        night 1 had it missed on 10-20, night 2 not
                                                                        (case 5); open and past policy until 11-09
  P7  high created 10-06, open; walk 2 lists it with the advisory's withdrawn_at 11-05 12:00 -> withdrawn then
  P8  critical created 10-02, fixed 10-06 (night 1); night 2: open again since 11-07 (GitHub reintroduced it, the
      API cleared fixed_at)                                          -> stays met on 10-06; closed 10-06..11-06, open
                                                                        and past policy from 11-07 (case 6)
  P9  low created 10-10, open, no first_patched_version              -> open_without_patch
  P10 high created 10-12, no published_at, fixed 10-14               -> met on 10-14; disclosure unknown; with
                                                                        advisory_published no deadline (clock_unknown)
  P11 medium created 10-15, published 10-16 (after it), fixed 10-18  -> disclosure clamped: advisory_after_alert
  P12 critical created 10-21 12:00, fixed 10-21 06:00 (clock skew)   -> time to patch clamped to 0
  P13 critical created 10-27, open on night 1, fixed 11-08 (night 2) -> met on 11-08, 1 036 800 s
  P14 medium created 10-08, fixed 10-24, first loaded on night 2     -> late: met on 10-24 from night 2 on
  O1  acme/ops critical created 10-01, open; night 2's walk of acme/ops answered not_enabled -> no walk: stays open
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.integration.dbt_harness import query

AS_OF1, AS_OF2 = "2026-11-05T00:00:00Z", "2026-11-11T00:00:00Z"
BACKFILL = {"run_date": "2026-10-20", "as_of": "2026-10-21T00:00:00Z", "reporting_timezone": "UTC",
            "security_patch_clock": "advisory_published"}
REPO_TEAMS = (("acme/pay", "payments"), ("acme/ops", "payments"))
# The models that read the clock or the run's date; the staging views and the nightly history stay as built.
PATCH_MODELS = ["--select", "int_security__withdrawn_alerts", "fct_security_alerts", "int_security__closings",
                "int_security__days", "int_security__cells", "int_security__alert_days", "int_security__patch_alerts",
                "mart_patch_compliance_daily"]
DAY = 86400


def at(text: str) -> str:
    """'10-16' or '10-21 06:00' (2026) -> the API's ISO form."""
    day, _, clock = text.partition(" ")
    return f"2026-{day}T{clock or '00:00'}:00Z"


def alert(number: int, severity: str, created: str, state: str = "open", *, fixed: str | None = None,
          dismissed: str | None = None, updated: str | None = None, published: str | None | bool = True,
          withdrawn: str | None = None, patched: bool = True, repo: str = "acme/pay") -> dict[str, Any]:
    """A Dependabot alert as GET /repos/{owner}/{repo}/dependabot/alerts returns it; times as at() takes them."""
    created_at = at(created)
    if published is True:
        published_at = (datetime.fromisoformat(created_at.replace("Z", "+00:00")) - timedelta(days=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
    else:
        published_at = at(published) if published else None
    vulnerability = {"package": {"ecosystem": "npm", "name": "lodash"}, "severity": severity,
                     "vulnerable_version_range": "< 4.17.21",
                     "first_patched_version": {"identifier": "4.17.21"} if patched else None}
    stamps = {"fixed_at": fixed, "dismissed_at": dismissed}
    return {"number": number, "state": state,
            "dependency": {"package": {"ecosystem": "npm", "name": "lodash"}, "manifest_path": "package-lock.json",
                           "scope": "runtime", "relationship": "direct"},
            "security_advisory": {"ghsa_id": f"GHSA-{number}", "severity": severity, "vulnerabilities": [vulnerability],
                                  "published_at": published_at, "withdrawn_at": at(withdrawn) if withdrawn else None},
            "security_vulnerability": vulnerability,
            "html_url": f"https://github.com/{repo}/security/dependabot/{number}",
            "created_at": created_at, "updated_at": at(updated or fixed or dismissed or created),
            **{k: at(v) if v else None for k, v in stamps.items()},
            "dismissed_reason": "tolerable_risk" if dismissed else None, "auto_dismissed_at": None, "assignees": []}


def dependabot(record: dict, repo: str = "acme/pay") -> tuple:
    return ("dependabot_alerts", repo, record)


def listed(record: dict, as_of: str, repo: str = "acme/pay") -> tuple:
    return ("dependabot_open_alerts", repo, record, as_of)


def walk(repo: str, as_of: str, status: str = "ok") -> tuple:
    """A meta.stream_coverage row of the withdrawal check: the walk of `repo` that ended at `as_of`."""
    stamp = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    return ("github", "dependabot_open_alerts", repo, status, 403 if status != "ok" else None, None, 0,
            stamp - timedelta(days=1), stamp, as_of, f"batch-{as_of}-{repo}", stamp)


P5 = alert(5, "high", "10-10", published="08-31")
P6 = alert(6, "critical", "10-05")
P7 = alert(7, "high", "10-06")
P9 = alert(9, "low", "10-10", patched=False)
O1 = alert(1, "critical", "10-01", repo="acme/ops")
SETTLED = [alert(1, "critical", "10-01", "fixed", fixed="10-16"),
           alert(2, "critical", "10-01", "fixed", fixed="10-20"),
           alert(3, "critical", "10-01", "dismissed", dismissed="10-03"),
           alert(4, "critical", "10-01", "dismissed", dismissed="10-20"),
           alert(10, "high", "10-12", "fixed", fixed="10-14", published=None),
           alert(11, "medium", "10-15", "fixed", fixed="10-18", published="10-16"),
           alert(12, "critical", "10-21 12:00", "fixed", fixed="10-21 06:00")]
P8_FIXED = alert(8, "critical", "10-02", "fixed", fixed="10-06")
P8_REINTRODUCED = alert(8, "critical", "10-02", updated="11-07")
P13_OPEN, P13_FIXED = alert(13, "critical", "10-27"), alert(13, "critical", "10-27", "fixed", fixed="11-08")
P14 = alert(14, "medium", "10-08", "fixed", fixed="10-24")

NIGHT1_ROWS = [*(dependabot(a) for a in [*SETTLED, P5, P6, P7, P8_FIXED, P9, P13_OPEN]), dependabot(O1, "acme/ops"),
               *(listed(a, AS_OF1) for a in (P5, P6, P7, P9, P13_OPEN)), listed(O1, AS_OF1, "acme/ops")]
NIGHT2_ROWS = [*(dependabot(a) for a in (P8_REINTRODUCED, P13_FIXED, P14)),
               *(listed(a, AS_OF2) for a in (P5, alert(7, "high", "10-06", withdrawn="11-05 12:00"), P8_REINTRODUCED,
                                             P9))]
WALKS1 = [walk("acme/pay", AS_OF1), walk("acme/ops", AS_OF1)]
WALKS2 = [walk("acme/pay", AS_OF2), walk("acme/ops", AS_OF2, "not_enabled")]
KEYS = {f"dependabot:acme/pay#{n}" for n in range(1, 15)} | {"dependabot:acme/ops#1"}


def patch_rows(path: Path) -> dict[tuple, dict[str, Any]]:
    return {(r["day"].isoformat()[5:], r["scope_id"], r["severity"]): r
            for r in query(path, "select * from marts.mart_patch_compliance_daily")}


def figures(row: dict[str, Any], *names: str) -> tuple:
    return tuple(row[name] for name in names)


DECISIONS = ("met", "missed", "decided", "patch_compliance_pct", "dismissed_before_due")
STOCK = ("open", "past_policy", "open_without_patch")
