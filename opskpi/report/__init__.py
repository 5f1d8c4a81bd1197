"""The nightly KPI report: one day's snapshot as a self-contained HTML page, a Markdown summary and JSON.

    data.py     load the snapshot history, catalog, scope names and data health from a DuckDB file
    model.py    tiles (value, change vs 7 days earlier, status word and tone), formatting, series
    svg.py      inline SVG line / bar / stacked-area charts in pure Python
    page.py     the HTML page (inline CSS and SVG, no script, every source string escaped)
    summary.py  summary.md, chat text and kpis.json
    writer.py   report/<date>/ and report/latest, written atomically
    deliver.py  optional webhook and e-mail delivery
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from opskpi.report.data import ReportDataError, load_report_data
from opskpi.report.summary import render_chat
from opskpi.report.writer import write_report

__all__ = ["ReportDataError", "generate_report"]


def generate_report(source: Path, report_dir: Path, report_date: date, title: str = "Ops KPI report") -> dict[str, Any]:
    """Read the snapshot of report_date from `source` (a DuckDB file with the marts) and write the report."""
    data = load_report_data(source, report_date)
    day_dir = write_report(report_dir, data, title)
    return {"report_date": report_date.isoformat(), "dir": str(day_dir), "run_id": data.run_id,
            "kpis": len(data.today()), "chat_text": render_chat(data, title),
            "subject": f"{title}: {report_date.isoformat()}"}
