"""What the report says, independent of how it is rendered: tiles, statuses, formatted numbers, series.

A tile shows one KPI for the org (or, for KPIs kept per service only, the worst service) over its headline
window, the change against the same window 7 days earlier, and a status as a word and a tone (good / warn /
bad / neutral), chosen by the catalog's status_rule. A tile never says two things about two windows: a
status defined over a fixed window (SLOs, error budgets and DORA tiers are 30-day notions) makes that the
tile's window, value and change included; other tiles use 7d when the KPI has it, else 30d, else 1d.

The tile never contradicts itself: an overspent error budget reads "Exhausted" in the alarm colour with
the overspend in minutes (a percentage of -6,930 % means nothing to a reader), and its change is never
shown as good; the colour of a change follows the KPI's direction (down is good for MTTR); "SLO met" needs
every service within its SLO over 30 days, which is the same as no exhausted budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from opskpi.freshness import worst
from opskpi.report.data import FreshnessRow, HealthRow, KpiInfo, KpiValue, MaturityCriterion, ReportData

TILE_WINDOWS = ("7d", "30d", "1d")
# Status rules defined over one window only: the tile then shows its value and change over that window too.
STATUS_WINDOWS = {"slo": "30d", "error_budget": "30d", "dora_tier": "30d"}
BUDGET_WINDOW_DAYS = 30
WINDOW_WORDS = {"1d": "day", "7d": "7 days", "30d": "30 days"}
COMPARE_DAYS = 7
TIER_WORDS = {1: "Elite", 2: "High", 3: "Medium", 4: "Low"}
TIER_TONES = {1: "good", 2: "good", 3: "warn", 4: "bad"}
# CMMI's staged maturity levels (docs/metrics.md "Maturity scorecard"); level 1 is the article's "Basic"
LEVEL_NAMES = {1: "Initial", 2: "Managed", 3: "Defined", 4: "Quantitatively Managed", 5: "Optimizing"}
ERROR_BUDGET_AT_RISK_PCT = 25.0
SLA_WARN_PCT = 90.0
AREA_TITLES = {"availability": "Availability", "incidents": "Incident response", "detection": "Detection",
               "dora": "Delivery (DORA)", "security": "Security posture", "jira_flow": "Jira flow",
               "maturity": "Operational maturity", "other": "Other KPIs"}
AREA_ORDER = ("maturity", "availability", "incidents", "detection", "dora", "security", "jira_flow", "other")
# How much data stands behind a detection tile, said under its value before its coverage (COVERAGE_KPIS), in the
# Markdown summary too: a mean over 2 of 40 incidents reads very differently from one over 38. KPI -> what its
# sample_size counts.
SAMPLE_WORDS = {
    "mttd_mean": "incidents measured",
    "mttd_p50": "incidents measured",
    "detection_coverage": "eligible incidents",
    "monitoring_detection_share": "incidents with a known trigger",
    "change_detection_p50": "failed deployments with an incident",
}


@dataclass(frozen=True)
class Status:
    word: str
    tone: str  # good | warn | bad | neutral


@dataclass(frozen=True)
class Tile:
    kpi: str
    area: str
    label: str
    description: str
    unit: str
    window: str
    scope_type: str
    scope_id: str
    scope_label: str
    value: float | None
    value_text: str
    sample_size: int | None
    previous: float | None
    change: float | None
    change_text: str
    change_tone: str
    status: Status
    value_tone: str = "neutral"  # "bad": the value itself is the alarm (an exhausted budget)
    detail: str = ""  # one more line under the value (the overspend of an exhausted budget)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- formatting -------------------------------------------------------------------------------------


def fmt_duration(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 90:
        return f"{sign}{s:.0f} s"
    if s < 90 * 60:
        minutes = s / 60
        return f"{sign}{minutes:.1f} min" if minutes < 10 else f"{sign}{minutes:.0f} min"
    if s < 48 * 3600:
        return f"{sign}{s / 3600:.1f} h"
    return f"{sign}{s / 86400:.1f} d"


# A tile's figure -> the snapshot KPI that says how much of the data it stands for, shown under its value.
COVERAGE_KPIS = {"downtime_cost": ("downtime_cost_coverage", "of the downtime priced"),
                 "mttd_mean": ("detection_coverage", "coverage"), "mttd_p50": ("detection_coverage", "coverage")}
PRECISE_PCT_KPIS = {"availability"}  # three decimals: 99.9 and 99.95 must not look alike
TARGET_KPIS = {"availability_slo_target"}


def fmt_pct(value: float, kpi: str | None = None) -> str:
    if value == 100:
        return "100 %"
    if kpi in PRECISE_PCT_KPIS:
        return f"{value:.3f} %"
    if kpi in TARGET_KPIS:
        return f"{value:g} %"
    return f"{value:.1f} %"


def fmt_money(amount: float, currency: str | None) -> str:
    """Whole units and the ISO 4217 code (`business_impact.currency`): a code, not a symbol, says which dollar."""
    return f"{amount:,.0f} {currency}" if currency else f"{amount:,.0f}"


def fmt_value(value: float | None, unit: str, kpi: str | None = None, currency: str | None = None) -> str:
    if value is None:
        return "no data"
    if unit == "money":
        return fmt_money(value, currency)
    if unit == "pct":
        return fmt_pct(value, kpi)
    if unit == "s":
        return fmt_duration(value)
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "per_day":
        return f"{value:.2f} /day"
    if unit == "tier":
        return TIER_WORDS.get(round(value), f"{value:g}")
    if unit == "level":
        return f"{value:g} {LEVEL_NAMES.get(round(value), '')}".strip()
    return f"{value:g}"


def fmt_change(delta: float | None, unit: str, currency: str | None = None) -> str:
    if delta is None:
        return "no comparison"
    if unit == "tier":
        return "tier changed" if delta else "same tier"
    if unit == "level":
        return f"{'▲' if delta > 0 else '▼'} {delta:+g} level" if delta else "same level"
    arrow = "▲" if delta > 0 else ("▼" if delta < 0 else "■")
    sign = "+" if delta > 0 else ("-" if delta < 0 else "±")
    size = abs(delta)
    if unit == "pct":
        text = f"{size:.3f} pp" if size < 0.1 else f"{size:.1f} pp"
    elif unit == "s":
        text = fmt_duration(size)
    elif unit == "count":
        text = f"{size:,.0f}"
    elif unit == "per_day":
        text = f"{size:.2f} /day"
    elif unit == "money":
        text = fmt_money(size, currency)
    else:
        text = f"{size:g}"
    return f"{arrow} {sign}{text}"


def axis_format(unit: str, currency: str | None = None):
    if unit == "money":
        return lambda v: fmt_money(v, currency)
    if unit == "s":
        return fmt_duration
    if unit == "pct":
        return lambda v: f"{v:g} %"
    return lambda v: f"{v:g}"


# --- tiles ---------------------------------------------------------------------------------------------


def _change_tone(delta: float | None, direction: str) -> str:
    if delta is None or delta == 0 or direction not in ("higher", "lower"):
        return "neutral"
    better = delta > 0 if direction == "higher" else delta < 0
    return "good" if better else "bad"


def _pick_scope(data: ReportData, info: KpiInfo) -> tuple[KpiValue, str] | None:
    """The org row in the headline window, else the worst scope (by direction) in that window."""
    rows = [v for v in data.today() if v.kpi == info.kpi]
    if not rows:
        return None
    preferred = (STATUS_WINDOWS[info.status_rule],) if info.status_rule in STATUS_WINDOWS else ()
    window = next(w for w in preferred + TILE_WINDOWS + tuple(sorted({r.window for r in rows}))
                  if any(r.window == w for r in rows))
    in_window = [r for r in rows if r.window == window]
    org = [r for r in in_window if r.scope_type == "org"]
    if org:
        return org[0], "org"
    with_value = [r for r in in_window if r.value is not None] or in_window
    worst = (max if info.direction == "lower" else min)(with_value, key=lambda r: (r.value is None, r.value or 0))
    word = "highest" if info.direction == "lower" else "lowest"
    return worst, f"{word}: {data.scope_name(worst.scope_type, worst.scope_id)}"


def _status(data: ReportData, info: KpiInfo, row: KpiValue, change: float | None) -> Status:
    rule = info.status_rule
    if rule == "slo":
        services = [v for v in data.today() if v.kpi == info.kpi and v.window == row.window
                    and v.scope_type == "service" and v.value is not None]
        judged = [m for m in (slo_missed(data, v.scope_id) for v in services) if m is not None]
        if not judged:
            return Status("No SLO data", "neutral")
        missed = sum(judged)
        if missed == 0:
            return Status("SLO met", "good")
        return Status(f"SLO missed: {missed} of {len(judged)} services", "bad")
    if row.value is None:
        return Status("No data", "neutral")
    if rule == "error_budget":
        if row.value < 0:
            return Status("Budget exhausted", "bad")
        if row.value < ERROR_BUDGET_AT_RISK_PCT:
            return Status("Budget at risk", "warn")
        return Status("Budget healthy", "good")
    if rule == "dora_tier":
        tier = data.get(info.status_kpi or "", row.scope_type, row.scope_id, "30d")
        tiers = [tier] if tier is not None and tier.value is not None else [
            v for v in data.today() if v.kpi == info.status_kpi and v.value is not None]
        if not tiers:
            return Status("No tier", "neutral")
        worst = max(round(t.value) for t in tiers)
        word = TIER_WORDS.get(worst, "Unknown")
        return Status(word if len(tiers) == 1 else f"{word} (worst team)", TIER_TONES.get(worst, "neutral"))
    if rule == "zero":
        return Status("None open", "good") if row.value == 0 else Status("Needs attention", "bad")
    if rule == "sla":
        if row.value >= 100:
            return Status("All within SLA", "good")
        return Status("Some past SLA", "warn") if row.value >= SLA_WARN_PCT else Status("SLA breached", "bad")
    if rule == "trend":
        tone = _change_tone(change, info.direction)
        if change is None:
            return Status("No comparison", "neutral")
        return Status({"good": "Better", "bad": "Worse"}.get(tone, "Steady"), "good" if tone == "good" else
                      ("warn" if tone == "bad" else "neutral"))
    return Status("", "neutral")


def budget_overspend_s(data: ReportData, row: KpiValue) -> float | None:
    """Seconds of downtime beyond an exhausted budget: -remaining % of (1 - SLO) x the window's days."""
    if row.value is None or row.value >= 0:
        return None
    target = data.get("availability_slo_target", row.scope_type, row.scope_id, "30d", row.snapshot_date)
    if target is None or target.value is None:
        target = data.get("availability_slo_target", row.scope_type, row.scope_id, "30d")
    if target is None or target.value is None:
        return None
    days = row.sample_size or BUDGET_WINDOW_DAYS
    return -row.value / 100 * (1 - target.value / 100) * days * 86400


def fmt_minutes(seconds: float) -> str:
    return f"{seconds / 60:,.0f} min"


def slo_missed(data: ReportData, service_id: str) -> bool | None:
    """A service misses its SLO when its 30-day availability is below it or its 30-day budget is exhausted."""
    target = data.get("availability_slo_target", "service", service_id, "30d")
    avail = data.get("availability", "service", service_id, "30d")
    budget = data.get("error_budget_remaining", "service", service_id, "30d")
    if target is None or target.value is None or avail is None or avail.value is None:
        return None
    exhausted = budget is not None and budget.value is not None and budget.value < 0
    return avail.value < target.value or exhausted


def _budget_tile(data: ReportData, row: KpiValue, before: KpiValue | None) -> dict[str, Any]:
    """An exhausted budget: the word, the overspend in minutes, the change of the overspend (never good)."""
    over = budget_overspend_s(data, row)
    detail = f"overspent by {fmt_minutes(over)}" if over is not None else "overspent"
    previous_over = budget_overspend_s(data, before) if before is not None and before.value is not None else None
    if before is None or before.value is None:
        change_text, tone = "no comparison", "neutral"
    elif previous_over is None:
        change_text, tone = "newly exhausted", "bad"
    elif over is not None:
        delta = over - previous_over
        arrow, sign = ("▲", "+") if delta > 0 else (("▼", "-") if delta < 0 else ("■", "±"))
        change_text = f"{arrow} overspend {sign}{fmt_minutes(abs(delta))}"
        tone = "bad" if delta > 0 else "neutral"
    else:
        change_text, tone = "still exhausted", "neutral"
    return {"value_text": "Exhausted", "value_tone": "bad", "detail": detail, "change_text": change_text,
            "change_tone": tone}


def _sample(row: KpiValue) -> str:
    """"7 incidents measured": the sample size of a tile's figure, in the words of SAMPLE_WORDS."""
    return f"{row.sample_size or 0:,} {SAMPLE_WORDS[row.kpi]}"


def _coverage(data: ReportData, row: KpiValue) -> str:
    """"80 % of the downtime priced": the coverage KPI of the tile's scope and window (COVERAGE_KPIS), if any."""
    kpi, words = COVERAGE_KPIS.get(row.kpi, (None, ""))
    covered = data.get(kpi, row.scope_type, row.scope_id, row.window) if kpi else None
    if covered is None or covered.value is None:
        return ""
    return f"{fmt_pct(covered.value)} {words}"


def build_tiles(data: ReportData) -> list[Tile]:
    tiles = []
    for info in sorted(data.catalog.values(), key=lambda i: (i.display_order, i.kpi)):
        if not info.tile:
            continue
        picked = _pick_scope(data, info)
        if picked is None:
            continue
        row, scope_label = picked
        before = data.get(row.kpi, row.scope_type, row.scope_id, row.window,
                          data.report_date - timedelta(days=COMPARE_DAYS))
        previous = before.value if before is not None else None
        change = row.value - previous if row.value is not None and previous is not None else None
        shown = {"value_text": fmt_value(row.value, row.unit, row.kpi, data.currency),
                 "change_text": fmt_change(change, row.unit, data.currency),
                 "change_tone": _change_tone(change, info.direction), "detail": _coverage(data, row)}
        status = _status(data, info, row, change)
        if info.kpi in SAMPLE_WORDS:  # detection: the sample behind the figure, then its coverage if any
            shown["detail"] = " · ".join(filter(None, [_sample(row), shown["detail"]]))
        if info.status_rule == "error_budget" and row.value is not None and row.value < 0:
            shown = _budget_tile(data, row, before)
        if row.sample_complete is False:
            # the window reaches before the data's first complete day: no trend, tier or verdict from it yet
            shown = {**shown, "change_text": "no comparison", "change_tone": "neutral",
                     "detail": "provisional: the window starts before the data"}
            status = Status("Provisional", "neutral")
        tiles.append(Tile(
            kpi=info.kpi, area=info.area, label=info.label, description=info.description, unit=row.unit,
            window=row.window, scope_type=row.scope_type, scope_id=row.scope_id, scope_label=scope_label,
            value=row.value, sample_size=row.sample_size, previous=previous, change=change,
            status=status, **shown,
        ))
    return tiles


# --- series ----------------------------------------------------------------------------------------------


def chart_days(data: ReportData, days: int = 30) -> list[date]:
    return [data.report_date - timedelta(days=days - 1 - i) for i in range(days)]


def series(data: ReportData, kpi: str, scope_type: str, scope_id: str, window: str,
           days: list[date]) -> list[float | None]:
    out = []
    for day in days:
        row = data.get(kpi, scope_type, scope_id, window, day)
        out.append(row.value if row is not None else None)
    return out


def provisional_days(data: ReportData, kpis: Sequence[tuple[str, str]], scope_type: str, scope_id: str,
                     days: list[date]) -> list[bool]:
    """Per day: whether any of these (kpi, window) figures of the scope is provisional that day (its window reaches
    before the area's first complete day, `sample_complete` false), so a chart can shade it."""
    out = []
    for day in days:
        rows = [data.get(kpi, scope_type, scope_id, window, day) for kpi, window in kpis]
        out.append(any(row is not None and row.sample_complete is False for row in rows))
    return out


def has_kpi(data: ReportData, *kpis: str) -> bool:
    present = {v.kpi for v in data.values}
    return any(k in present for k in kpis)


def areas_present(data: ReportData) -> list[str]:
    present = {data.catalog[v.kpi].area for v in data.today()}
    return [a for a in AREA_ORDER if a in present] + sorted(present - set(AREA_ORDER))


FRESHNESS_TONES = {"pass": "good", "warn": "warn", "error": "bad", "runtime error": "bad"}


def freshness_of(rows: list[FreshnessRow], source: str) -> dict[str, Any] | None:
    """The worst `dbt source freshness` status of a source's tables, and which tables are not `pass`."""
    mine = [r for r in rows if r.source == source]
    status = worst([r.status for r in mine])
    if status is None:
        return None
    late = [r for r in mine if r.status != "pass"]
    return {"status": status, "tone": FRESHNESS_TONES[status], "tables": len(mine),
            "late": ", ".join(f"{r.source_table} ({r.status}"
                              + (f", {fmt_duration(r.age_s)} old" if r.age_s is not None else "") + ")"
                              for r in late)}


def health_by_source(rows: list[HealthRow], freshness: list[FreshnessRow] = ()) -> list[dict[str, Any]]:
    """Streams rolled up per source: latest load, summed counts, the freshest stream's data and lag, and
    the worst dbt source freshness status of its tables."""
    out = []
    for source in sorted({r.source for r in rows} | {r.source for r in freshness}):
        mine = [r for r in rows if r.source == source]
        loads = [r.last_loaded_at for r in mine if r.last_loaded_at is not None]
        newest = [r.newest_record_at for r in mine if r.newest_record_at is not None]
        lags = [r.freshness_s for r in mine if r.freshness_s is not None]
        checks = [f"{r.stream}: {r.failed_checks}" for r in mine if r.failed_checks]
        checks += [f"{r.stream}: {r.not_enabled}" for r in mine if r.not_enabled]
        out.append({
            "source": source, "streams": len(mine), "last_loaded_at": max(loads, default=None),
            "rows_landed": sum(r.rows_landed for r in mine), "rows_changed": sum(r.rows_changed for r in mine),
            "validations": sum(r.validations_24h for r in mine),
            "failed_validations": sum(r.failed_validations_24h for r in mine),
            "failed_expectations": sum(r.failed_expectations_24h for r in mine), "checks": "; ".join(checks),
            "newest_record_at": max(newest, default=None), "lag_s": min(lags, default=None),
            "freshness": freshness_of(list(freshness), source),
        })
    return out


# --- maturity ---------------------------------------------------------------------------------------------

# The unit of each evidence query of the rubric (int_maturity__evidence), for its value and threshold; others count.
EVIDENCE_UNITS = {"mtta_p50": "s", "monitoring_detection_share": "pct", "detection_coverage": "pct",
                  "patch_compliance": "pct", "e2e_link_coverage": "pct"}
STATUS_WORDS = {"fail": "below threshold", "insufficient_data": "too little data", "attestation_missing":
                "not attested", "attestation_expired": "attestation expired", "pass": "met", "attested": "attested",
                "not_applicable": "not applicable"}


def evidence_unit(evidence: str) -> str:
    return EVIDENCE_UNITS.get(evidence, "pct" if evidence.endswith("_pct") else "count")


@dataclass(frozen=True)
class Blocker:
    """A criterion of the next level that is not met: what stands between a scope and that level."""

    criterion_id: str
    description: str
    status: str
    status_text: str
    evidence_text: str
    threshold_text: str


@dataclass(frozen=True)
class MaturityView:
    scope_type: str
    scope_id: str
    scope_label: str
    level: int
    level_text: str
    next_level_text: str
    rubric_version: str
    blockers: list[Blocker]
    history: list[float | None]  # the level shown on each chart day (the snapshot), None before it existed
    note: str = ""
    attested: tuple[str, ...] = ()  # criteria met by an attestation: shown as attested, never as measured


def _blocker(c: MaturityCriterion) -> Blocker:
    if c.kind == "attested":
        evidence = (f"attested by {c.attested_by}, expired {c.expires_at:%Y-%m-%d}"
                    if c.status == "attestation_expired" and c.attested_by and c.expires_at else "no attestation")
        threshold = "a valid attestation"
    else:
        unit = evidence_unit(c.evidence)
        value = fmt_value(c.evidence_value, unit) if c.evidence_value is not None else "no data"
        evidence = f"{value} (n={c.sample_size})" if c.sample_size is not None else value
        window = f" over {c.window_days} days" if c.window_days and c.window_days > 1 else ""
        threshold = (f"{c.comparison} {fmt_value(c.threshold, unit)}{window}" if c.threshold is not None else "")
        if c.status == "insufficient_data" and c.min_sample:
            threshold += f", at least {c.min_sample} in the sample"
    return Blocker(c.criterion_id, c.description, c.status, STATUS_WORDS.get(c.status, c.status), evidence, threshold)


def maturity_views(data: ReportData, days: int = 30) -> list[MaturityView]:
    """Per scope with a maturity level in the snapshot of the report date (the org first, then teams by name): the
    level shown that night, what blocks the next level (its unmet criteria from the scorecard, with evidence and
    threshold) and the level's history over the chart days, as each night's snapshot recorded it."""
    levels = [v for v in data.today() if v.kpi == "maturity_level" and v.window == "1d" and v.value is not None]
    levels.sort(key=lambda v: (v.scope_type != "org", data.scope_name(v.scope_type, v.scope_id).lower()))
    chart = chart_days(data, days)
    views = []
    for row in levels:
        level = round(row.value)
        criteria = [c for c in data.maturity if (c.scope_type, c.scope_id) == (row.scope_type, row.scope_id)]
        blockers = [_blocker(c) for c in criteria if c.level == level + 1 and not c.is_met]
        note = ""
        rubric = criteria[0].rubric_version if criteria else ""
        recomputed = min((c.level for c in criteria if not c.is_met), default=6) - 1
        if criteria and min(recomputed, 5) != level:
            # the scorecard was recomputed since (a rubric switch or late data): the level stays what was shown
            note = (f"The scorecard has since been recomputed (rubric {rubric}: level {min(recomputed, 5)}); "
                    "the level is the one shown that night.")
        views.append(MaturityView(
            scope_type=row.scope_type, scope_id=row.scope_id,
            scope_label="Organisation" if row.scope_type == "org" else data.scope_name(row.scope_type, row.scope_id),
            level=level, level_text=fmt_value(row.value, "level"),
            next_level_text=fmt_value(level + 1, "level") if level < 5 else "",
            rubric_version=rubric, blockers=blockers if level < 5 else [],
            history=series(data, "maturity_level", row.scope_type, row.scope_id, "1d", chart), note=note,
            attested=tuple(c.criterion_id for c in criteria if c.status == "attested")))
    return views
