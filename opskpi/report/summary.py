"""The short forms of the report: a Markdown summary (also what the webhook and the e-mail carry) and JSON."""

from __future__ import annotations

from typing import Any

from opskpi.report.data import ReportData
from opskpi.report.model import (
    AREA_TITLES,
    WINDOW_WORDS,
    areas_present,
    build_tiles,
    fmt_duration,
    health_by_source,
    maturity_views,
)

STATUS_MARKS = {"good": "OK", "warn": "WARN", "bad": "ALERT", "neutral": "-"}


def _md(text: str) -> str:
    """Plain text for Markdown: characters with a meaning in Markdown or HTML are escaped."""
    out = str(text)
    for ch in "\\`*_[]<>|#":
        out = out.replace(ch, "\\" + ch)
    return out.replace("&", "&amp;")


def render_markdown(data: ReportData, title: str = "Ops KPI report") -> str:
    tiles = build_tiles(data)
    lines = [f"# {_md(title)}: {data.report_date.isoformat()}", ""]
    for area in areas_present(data):
        area_tiles = [t for t in tiles if t.area == area]
        if not area_tiles:
            continue
        lines.append(f"## {_md(AREA_TITLES.get(area, area))}")
        for t in area_tiles:
            status = f" — **{_md(t.status.word)}** ({STATUS_MARKS[t.status.tone]})" if t.status.word else ""
            detail = f", {_md(t.detail)}" if t.detail else ""
            lines.append(f"- {_md(t.label)}, {_md(t.scope_label)}, {WINDOW_WORDS.get(t.window, t.window)}: "
                         f"**{_md(t.value_text)}**{detail} ({_md(t.change_text)} vs 7 days earlier){status}")
        if area == "maturity":  # each team's level and what blocks its next one
            for view in maturity_views(data):
                blocking = "; ".join(f"{b.criterion_id} ({b.status_text}: {b.evidence_text}"
                                     + (f", needs {b.threshold_text}" if b.threshold_text else "") + ")"
                                     for b in view.blockers)
                lines.append(f"- {_md(view.scope_label)}: level **{_md(view.level_text)}**"
                             + (f", blocking level {_md(view.next_level_text)}: {_md(blocking)}" if blocking else ""))
        lines.append("")
    if data.health or data.freshness:
        failed = [h for h in data.health if h.failed_validations_24h or h.failed_expectations_24h]
        sources = health_by_source(data.health, data.freshness)
        lag = max((s["lag_s"] for s in sources if s["lag_s"] is not None), default=None)
        rows = sum(s["rows_landed"] for s in sources)
        lines.append("## Data health")
        lines.append(f"- {len(sources)} sources, {rows:,} rows loaded by this run"
                     + (f"; largest freshness lag of a source {fmt_duration(lag)}" if lag is not None else ""))
        if failed:
            for h in failed:
                lines.append(f"- failed checks in {_md(h.source)}/{_md(h.stream)}: "
                             f"{h.failed_validations_24h} batch(es), {_md(h.failed_checks or '')}")
        else:
            lines.append("- no failed expectations in the last 24 h")
        checked = [s for s in sources if s["freshness"]]
        if checked:
            lines.append("- dbt source freshness: " + "; ".join(
                f"{_md(s['source'])} {s['freshness']['status']}"
                + (f" ({_md(s['freshness']['late'])})" if s["freshness"]["late"] else "") for s in checked))
        for h in data.health:
            if h.not_enabled:
                lines.append(f"- {_md(h.source)}/{_md(h.stream)}: {_md(h.not_enabled)}")
        lines.append("")
    lines.append(f"_run {_md(data.run_id or 'unknown')}_")
    return "\n".join(lines) + "\n"


def report_json(data: ReportData, title: str = "Ops KPI report") -> dict[str, Any]:
    """Tiles as shown plus every snapshot row of the date, with labels; machine-readable twin of the HTML."""
    return {
        "title": title,
        "report_date": data.report_date.isoformat(),
        "run_id": data.run_id,
        "computed_at": data.computed_at.isoformat() if data.computed_at else None,
        "tiles": [t.as_dict() for t in build_tiles(data)],
        "kpis": [
            {"kpi": v.kpi, "label": data.catalog[v.kpi].label, "area": data.catalog[v.kpi].area,
             "scope_type": v.scope_type, "scope_id": v.scope_id,
             "scope_name": data.scope_name(v.scope_type, v.scope_id),
             "window": v.window, "value": v.value, "unit": v.unit, "sample_size": v.sample_size}
            for v in sorted(data.today(), key=lambda v: (data.catalog[v.kpi].display_order, v.kpi, v.scope_type,
                                                         v.scope_id, v.window))
        ],
        "health": [
            {**h.__dict__,
             "last_loaded_at": h.last_loaded_at.isoformat() if h.last_loaded_at else None,
             "newest_record_at": h.newest_record_at.isoformat() if h.newest_record_at else None}
            for h in data.health
        ],
        "freshness": [
            {**f.__dict__, "max_loaded_at": f.max_loaded_at.isoformat() if f.max_loaded_at else None}
            for f in data.freshness
        ],
    }


def _chat(text: str) -> str:
    """Slack's escaping: only &, < and > have a meaning in message text."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_chat(data: ReportData, title: str = "Ops KPI report") -> str:
    """The summary as Slack-compatible message text (mrkdwn: *bold*)."""
    tiles = build_tiles(data)
    lines = [f"*{_chat(title)}: {data.report_date.isoformat()}*"]
    for t in tiles:
        status = f" — {_chat(t.status.word)}" if t.status.word else ""
        detail = f" ({_chat(t.detail)})" if t.detail else ""
        lines.append(f"• {_chat(t.label)} ({_chat(t.scope_label)}, {WINDOW_WORDS.get(t.window, t.window)}): "
                     f"*{_chat(t.value_text)}*{detail} {_chat(t.change_text)}{status}")
    failed = [h for h in data.health if h.failed_validations_24h]
    if failed:
        lines.append("Failed data checks: " + ", ".join(_chat(f"{h.source}/{h.stream}") for h in failed))
    return "\n".join(lines)
