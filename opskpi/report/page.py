"""The report as one self-contained HTML file: inline CSS and SVG, no script, nothing fetched.

Every string that comes from data (KPI labels, scope names, teams, sources, check names, the title) goes
through `html.escape`, so a service called `<script>` is shown as text.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from opskpi.report import svg
from opskpi.report.data import FreshnessRow, HealthRow, ReportData
from opskpi.report.model import (
    AREA_TITLES,
    WINDOW_WORDS,
    Tile,
    areas_present,
    axis_format,
    budget_overspend_s,
    build_tiles,
    chart_days,
    fmt_duration,
    fmt_minutes,
    fmt_value,
    has_kpi,
    health_by_source,
    maturity_views,
    provisional_days,
    series,
    slo_missed,
)

CSS = """
:root { --good:#047857; --good-bg:#d1fae5; --warn:#92400e; --warn-bg:#fef3c7; --bad:#991b1b; --bad-bg:#fee2e2;
  --neutral:#374151; --neutral-bg:#e5e7eb; --ink:#111827; --muted:#4b5563; --line:#d1d5db; --card:#ffffff; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: #f3f4f6; line-height: 1.4; }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 16px; }
header { padding-top: 20px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 28px 0 10px; }
h3 { font-size: 0.95rem; margin: 0; font-weight: 600; }
.meta, .note, footer { color: var(--muted); font-size: 0.85rem; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 12px; }
.tile { background: var(--card); border-radius: 8px; padding: 12px 14px; border-left: 6px solid var(--neutral);
  box-shadow: 0 1px 2px rgba(0,0,0,.08); break-inside: avoid; }
.tile.tone-good { border-left-color: var(--good); } .tile.tone-warn { border-left-color: #d97706; }
.tile.tone-bad { border-left-color: #dc2626; }
.tile .value { font-size: 1.7rem; font-weight: 700; margin: 6px 0 2px; font-variant-numeric: tabular-nums; }
.tile .scope, .tile .change { font-size: 0.82rem; margin: 2px 0; color: var(--muted); }
.change.tone-good { color: var(--good); } .change.tone-bad { color: var(--bad); }
.value.tone-bad, .detail.tone-bad, td.tone-bad { color: var(--bad); }
.tile .detail { font-size: 0.9rem; font-weight: 600; margin: 0 0 2px; }
.badge { display: inline-block; border-radius: 999px; padding: 2px 10px; font-size: 0.8rem; font-weight: 600;
  margin-top: 6px; }
.badge.tone-good { background: var(--good-bg); color: var(--good); }
.badge.tone-warn { background: var(--warn-bg); color: var(--warn); }
.badge.tone-bad { background: var(--bad-bg); color: var(--bad); }
.badge.tone-neutral { background: var(--neutral-bg); color: var(--neutral); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
figure { margin: 0; background: var(--card); border-radius: 8px; padding: 10px; break-inside: avoid;
  box-shadow: 0 1px 2px rgba(0,0,0,.08); }
figcaption { font-size: 0.9rem; font-weight: 600; margin-bottom: 4px; }
svg.chart { width: 100%; height: auto; display: block; }
svg .grid { stroke: #e5e7eb; stroke-width: 1; }
svg .tick, svg .legend { font-size: 12px; fill: #4b5563; font-family: inherit; }
.table-wrap { overflow-x: auto; background: var(--card); border-radius: 8px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
table { border-collapse: collapse; width: 100%; font-size: 0.85rem; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { white-space: normal; vertical-align: bottom; }
td.wrap { white-space: normal; min-width: 14em; overflow-wrap: anywhere; }
td.fresh { white-space: normal; min-width: 8em; overflow-wrap: anywhere; }
td.ts { white-space: normal; min-width: 6.5em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
footer { padding: 24px 16px 32px; }
.scroll-hint { display: none; }
@media (max-width: 600px) {
  h1 { font-size: 1.3rem; }
  .tiles { grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; }
  .tile .value { font-size: 1.35rem; }
  .charts { grid-template-columns: 1fr; }
  .scroll-hint { display: block; margin: -4px 0 6px; }
  th, td { padding: 5px 7px; }
  /* the name stays in view while the rest of the row scrolls under it */
  .name { position: sticky; left: 0; z-index: 1; background: var(--card); white-space: normal; min-width: 7em;
    max-width: 9em; overflow-wrap: anywhere; box-shadow: 1px 0 0 var(--line); }
}
@media print {
  body { background: #fff; font-size: 11pt; }
  header, main, footer { max-width: none; padding: 0; }
  .tile, figure, .table-wrap { box-shadow: none; border: 1px solid var(--line); }
  .tiles { grid-template-columns: repeat(4, 1fr); }
  .charts { grid-template-columns: repeat(2, 1fr); }
  section { break-inside: avoid-page; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def e(text: object) -> str:
    return escape(str(text), quote=True)


def _ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "never"


def render_tile(tile: Tile) -> str:
    window = WINDOW_WORDS.get(tile.window, tile.window)
    sample = f" · n={tile.sample_size}" if tile.sample_size is not None else ""
    data_value = "" if tile.value is None else repr(tile.value)
    return (
        f'<article class="tile tone-{e(tile.status.tone)}" data-kpi="{e(tile.kpi)}" '
        f'data-scope-type="{e(tile.scope_type)}" '
        f'data-scope-id="{e(tile.scope_id)}" data-window="{e(tile.window)}" data-value="{e(data_value)}" '
        f'title="{e(tile.description)}">'
        f"<h3>{e(tile.label)}</h3>"
        f'<p class="value tone-{e(tile.value_tone)}">{e(tile.value_text)}</p>'
        + (f'<p class="detail tone-{e(tile.value_tone)}">{e(tile.detail)}</p>' if tile.detail else "") +
        f'<p class="scope">{e(tile.scope_label)} · {e(window)}{e(sample)}</p>'
        f'<p class="change tone-{e(tile.change_tone)}">{e(tile.change_text)} vs 7 days earlier</p>'
        f'<p class="status"><span class="badge tone-{e(tile.status.tone)}">{e(tile.status.word or "—")}</span></p>'
        "</article>"
    )


def _figure(caption: str, chart: str, note: str = "") -> str:
    extra = f'<p class="note">{e(note)}</p>' if note else ""
    return f"<figure><figcaption>{e(caption)}</figcaption>{chart}{extra}</figure>"


def _labels(days) -> list[str]:
    return [d.strftime("%b %d") for d in days]


def availability_charts(data: ReportData) -> list[str]:
    days = chart_days(data)
    services = sorted({v.scope_id for v in data.values if v.kpi == "availability" and v.scope_type == "service"},
                      key=lambda s: data.scope_name("service", s).lower())
    figures = []
    for sid in services:
        values = series(data, "availability", "service", sid, "1d", days)
        target = data.get("availability_slo_target", "service", sid, "30d")
        slo = target.value if target is not None else None
        known = [v for v in values if v is not None] + ([slo] if slo is not None else [])
        if not known:
            continue
        low = min(known)
        y_min = max(0.0, low - max((100 - low) * 0.3, 0.05))
        thresholds = [svg.Threshold(f"SLO {slo:g} %", slo)] if slo is not None else []
        name = data.scope_name("service", sid)
        chart = svg.line_chart([svg.Series("daily availability", values)], _labels(days),
                               title=f"Availability of {name}, last 30 days", y_format=lambda v: f"{v:g} %",
                               thresholds=thresholds, y_min=y_min, y_max=100.0, flag_below=slo, height=180)
        figures.append(_figure(f"{name}", chart))
    return figures


def _trend(data: ReportData, title: str, kpis: list[tuple[str, str]], window: str = "7d") -> str | None:
    days = chart_days(data)
    lines = []
    for i, (kpi, name) in enumerate(kpis):
        values = series(data, kpi, "org", "org", window, days)
        if any(v is not None for v in values):
            lines.append(svg.Series(name, values, svg.PALETTE[i % len(svg.PALETTE)], dashed=i % 2 == 1))
    if not lines:
        return None
    unit = data.catalog[kpis[0][0]].unit
    shaded = provisional_days(data, [(kpi, window) for kpi, _ in kpis], "org", "org", days)
    return _figure(title, svg.line_chart(lines, _labels(days), title=title, y_format=axis_format(unit, data.currency),
                                         y_min=0.0, provisional=shaded))


def trend_charts(data: ReportData) -> list[str]:
    days = chart_days(data)
    figures = [
        _trend(data, "MTTA, rolling 7 days (org)", [("mtta_mean", "mean"), ("mtta_p50", "median")]),
        _trend(data, "MTTR, rolling 7 days (org)", [("mttr_mean", "mean"), ("mttr_p50", "median")]),
        _trend(data, "Downtime cost per day (org)", [("downtime_cost", "cost"), ("revenue_at_risk", "revenue at risk")],
               window="1d"),
    ]
    if has_kpi(data, "deployment_frequency", "lead_time_p50"):
        deploys = series(data, "deployment_frequency", "org", "org", "7d", days)
        lead = series(data, "lead_time_p50", "org", "org", "7d", days)
        title = "Deployment frequency and lead time, rolling 7 days (org)"
        shaded = provisional_days(data, [("deployment_frequency", "7d"), ("lead_time_p50", "7d")], "org", "org", days)
        figures.append(_figure(title, svg.bar_chart(
            svg.Series("deployments /day", deploys, svg.PALETTE[2]), _labels(days), title=title,
            line=svg.Series("lead time p50", lead, svg.PALETTE[1]), line_format=fmt_duration, provisional=shaded)))
    severities = ("critical", "high", "medium", "low")
    if has_kpi(data, *(f"alerts_open_{s}" for s in severities)):
        layers = [svg.Series(s, series(data, f"alerts_open_{s}", "org", "org", "1d", days), svg.SEVERITY_COLOURS[s])
                  for s in severities]
        breach = svg.Series("past SLA", series(data, "alerts_in_breach", "org", "org", "1d", days), "#111827",
                            dashed=True)
        title = "Open security alerts by severity, with SLA breaches (org)"
        figures.append(_figure(title, svg.stacked_area_chart(layers, _labels(days), title=title, lines=[breach])))
    if has_kpi(data, "throughput", "cycle_time_p50"):
        title = "Jira flow: throughput per day and cycle time p50, rolling 7 days (org)"
        figures.append(_figure(title, svg.bar_chart(
            svg.Series("issues done /day", series(data, "throughput", "org", "org", "1d", days), svg.PALETTE[3]),
            _labels(days), title=title,
            line=svg.Series("cycle time p50", series(data, "cycle_time_p50", "org", "org", "7d", days),
                            svg.PALETTE[1]), line_format=fmt_duration,
            provisional=provisional_days(data, [("throughput", "1d"), ("cycle_time_p50", "7d")], "org", "org",
                                         days))))
    return [f for f in figures if f]


def service_table(data: ReportData) -> str:
    services = sorted({v.scope_id for v in data.today() if v.kpi == "availability" and v.scope_type == "service"},
                      key=lambda s: data.scope_name("service", s).lower())
    if not services:
        return ""
    rows = []
    for sid in services:
        cells = []
        for window in ("1d", "7d", "30d"):
            row = data.get("availability", "service", sid, window)
            cells.append(fmt_value(row.value if row else None, "pct", "availability"))
        slo = data.get("availability_slo_target", "service", sid, "30d")
        budget = data.get("error_budget_remaining", "service", sid, "30d")
        missed = slo_missed(data, sid)
        status, tone = {None: ("no data", "neutral"), False: ("SLO met", "good"), True: ("SLO missed", "bad")}[missed]
        month = data.get("availability", "service", sid, "30d")
        if month is not None and month.sample_complete is False:
            # the 30 days reach before the data's first complete day: a verdict on them would be no verdict yet
            status, tone = "provisional", "neutral"
        over = budget_overspend_s(data, budget) if budget is not None else None
        if budget is not None and budget.value is not None and budget.value < 0:
            budget_text, budget_tone = "exhausted" + (f", {fmt_minutes(over)} over" if over is not None else ""), "bad"
        else:
            budget_text, budget_tone = fmt_value(budget.value if budget else None, "pct"), "num"
        team = data.scope_teams.get(("service", sid), "")
        # what a lead needs first (status, budget, the SLO window's value) sits next to the name, so a phone
        # shows it before the table is scrolled sideways
        rows.append(
            f'<tr data-service="{e(sid)}"><td class="name">{e(data.scope_name("service", sid))}</td>'
            f'<td><span class="badge tone-{tone}">{e(status)}</span></td>'
            f'<td class="num{" tone-bad" if budget_tone == "bad" else ""}">{e(budget_text)}</td>'
            + "".join(f'<td class="num">{e(c)}</td>' for c in reversed(cells))
            + f'<td class="num">{e(fmt_value(slo.value if slo else None, "pct", "availability_slo_target"))}</td>'
            f"<td>{e(team)}</td></tr>"
        )
    head = ('<tr><th class="name">Service</th><th>30-day status</th><th class="num">Error budget left</th>'
            '<th class="num">30 days</th><th class="num">7 days</th><th class="num">Day</th><th class="num">SLO</th>'
            "<th>Team</th></tr>")
    return (f'<section id="services"><h2>Availability by service</h2>{SCROLL_HINT}<div class="table-wrap"><table>'
            f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div></section>")


SCROLL_HINT = '<p class="note scroll-hint">The table scrolls sideways: swipe it for every column.</p>'


def maturity_section(data: ReportData) -> str:
    """Each scope's maturity level (the org first, then each team): the level shown that night, the unmet criteria
    of the next level with their evidence and thresholds (what blocks it), and the level over the last 30 days."""
    views = maturity_views(data)
    if not views:
        return ""
    days = chart_days(data)
    blocks = []
    for view in views:
        if view.blockers:
            rows = "".join(
                f'<tr data-criterion="{e(b.criterion_id)}"><td class="name" title="{e(b.description)}">'
                f"{e(b.criterion_id)}</td><td>{e(b.status_text)}</td><td class=\"num\">{e(b.evidence_text)}</td>"
                f'<td class="num">{e(b.threshold_text)}</td></tr>' for b in view.blockers)
            blocking = (f'<p>Blocking level {e(view.next_level_text)}:</p><div class="table-wrap"><table>'
                        '<thead><tr><th class="name">Criterion</th><th>Status</th><th class="num">Evidence</th>'
                        f'<th class="num">Threshold</th></tr></thead><tbody>{rows}</tbody></table></div>')
        elif view.level < 5:
            blocking = f'<p class="note">Nothing recorded blocks level {e(view.next_level_text)}.</p>'
        else:
            blocking = '<p class="note">Top level: every criterion is met.</p>'
        title = f"Maturity level of {view.scope_label}, last 30 days"
        chart = svg.line_chart([svg.Series("level", view.history)], _labels(days), title=title,
                               y_format=lambda v: f"{v:g}", y_min=1.0, y_max=5.0, height=150)
        note = f'<p class="note">{e(view.note)}</p>' if view.note else ""
        if view.attested:
            note += f'<p class="note attested">Attested, not measured: {e(", ".join(view.attested))}.</p>'
        rubric = f" · rubric {view.rubric_version}" if view.rubric_version else ""
        blocks.append(
            f'<article class="maturity" data-scope-type="{e(view.scope_type)}" data-scope-id="{e(view.scope_id)}" '
            f'data-level="{view.level}"><h3>{e(view.scope_label)}: <span class="badge">level {e(view.level_text)}'
            f"</span></h3><p class=\"note\">{e(rubric.lstrip(' ·'))}</p>{blocking}{note}"
            f"{_figure(title, chart)}</article>")
    return (f'<section class="area" id="area-maturity"><h2>{e(AREA_TITLES["maturity"])}</h2>'
            "<p class=\"note\">Levels earned from evidence, criterion by criterion (docs/metrics.md \"Maturity "
            f'scorecard"); attested criteria are shown as attested, never as measured.</p>{"".join(blocks)}</section>')


def _freshness_cell(freshness: dict | None) -> str:
    if freshness is None:
        return '<td class="fresh">not checked</td>'
    late = f" {e(freshness['late'])}" if freshness["late"] else f" {freshness['tables']} tables"
    return (f'<td class="fresh" data-freshness="{e(freshness["status"])}"><span class="badge tone-{freshness["tone"]}">'
            f"{e(freshness['status'])}</span>{late}</td>")


def health_table(rows: list[HealthRow], computed_at: datetime | None, freshness: list[FreshnessRow] = ()) -> str:
    if not rows and not freshness:
        return ('<section id="health"><h2>Data health</h2><p class="note">No load bookkeeping was recorded '
                "for this date.</p></section>")
    body = []
    for r in health_by_source(rows, freshness):
        badge = ('<span class="badge tone-bad">failed checks</span>' if r["failed_validations"]
                 else '<span class="badge tone-warn">warnings</span>' if r["failed_expectations"]
                 else '<span class="badge tone-good">ok</span>')
        lag = fmt_duration(r["lag_s"]) if r["lag_s"] is not None else "unknown"
        through = _ts(r["newest_record_at"]) if r["newest_record_at"] is not None else "unknown"
        body.append(
            f'<tr data-source="{e(r["source"])}"><td class="name">{e(r["source"])}</td>'
            f'<td class="num">{r["streams"]}</td>'
            f'<td class="ts">{e(_ts(r["last_loaded_at"]))}</td>'
            f'<td class="num">{r["rows_landed"]:,}</td><td class="num">{r["rows_changed"]:,}</td>'
            f'<td class="num">{r["validations"]}</td><td class="num">{r["failed_validations"]}</td>'
            f'<td class="wrap">{badge} {e(r["checks"])}</td>{_freshness_cell(r["freshness"])}'
            f'<td class="ts">{e(through)}</td><td class="num">{e(lag)}</td></tr>'
        )
    head = ('<tr><th class="name">Source</th><th class="num">Streams</th><th>Last successful load</th>'
            '<th class="num">Rows loaded</th><th class="num">Rows changed</th><th class="num">Validations (24 h)</th>'
            '<th class="num">Failed</th><th>Checks</th><th>Source freshness (dbt)</th><th>Data through</th>'
            '<th class="num">Freshness lag</th></tr>')
    return (f'<section id="health"><h2>Data health</h2><p class="note">As recorded by the run at '
            f"{e(_ts(computed_at))}: rows this run loaded; checks of the 24 hours before; data through = newest "
            "record loaded, lag = to the end of the report day; source freshness = dbt source freshness of the "
            "raw tables after the load (pass / warn / error against each source's thresholds, never failing "
            f"the run).</p>{SCROLL_HINT}<div class=\"table-wrap\"><table>"
            f"<thead>{head}</thead><tbody>{''.join(body)}</tbody></table></div></section>")


def render_html(data: ReportData, title: str = "Ops KPI report") -> str:
    tiles = build_tiles(data)
    sections = []
    for area in areas_present(data):
        area_tiles = [t for t in tiles if t.area == area]
        maturity = maturity_section(data) if area == "maturity" else ""
        if maturity:
            sections.append(maturity)
        elif area_tiles:
            sections.append(f'<section class="area" id="area-{e(area)}"><h2>{e(AREA_TITLES.get(area, area))}</h2>'
                            f'<div class="tiles">{"".join(render_tile(t) for t in area_tiles)}</div></section>')
    avail = availability_charts(data)
    if avail:
        sections.append('<section id="availability-charts"><h2>Availability per service, last 30 days, against '
                        f'its SLO</h2><div class="charts">{"".join(avail)}</div></section>')
    trends = trend_charts(data)
    if trends:
        sections.append(f'<section id="trends"><h2>Trends</h2><div class="charts">{"".join(trends)}</div></section>')
    sections.append(service_table(data))
    sections.append(health_table(data.health, data.health_computed_at, data.freshness))
    meta = (f"Report for {data.report_date.isoformat()} · run {data.run_id or 'unknown'} · "
            f"computed {_ts(data.computed_at)}")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · {e(data.report_date.isoformat())}</title>"
        f"<style>{CSS}</style></head><body>"
        f'<header><h1>{e(title)}</h1><p class="meta">{e(meta)}</p></header>'
        f"<main>{''.join(sections)}</main>"
        "<footer>Values from marts.kpi_daily_snapshot; windows end with the report date (calendar days of the "
        "reporting time zone). Change: against the same window ending 7 days earlier. Definitions: "
        "docs/metrics.md.</footer>"
        "</body></html>\n"
    )
