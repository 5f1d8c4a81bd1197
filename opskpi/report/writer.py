"""Write one day's report (index.html, summary.md, kpis.json) and repoint `latest/`, both atomically.

`report/<date>/` is written as a temporary sibling directory and renamed into place (an older version of the
same date is moved aside first and removed after), so a reader sees the old or the new report, never half of
one. `latest` is a symlink swapped with os.replace.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

from opskpi.report.data import ReportData
from opskpi.report.page import render_html
from opskpi.report.summary import render_markdown, report_json

FILES = ("index.html", "summary.md", "kpis.json")


def render_files(data: ReportData, title: str) -> dict[str, str]:
    return {
        "index.html": render_html(data, title),
        "summary.md": render_markdown(data, title),
        "kpis.json": json.dumps(report_json(data, title), indent=2, default=str) + "\n",
    }


def _swap_dir(tmp: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _swap_symlink(link: Path, target: str) -> None:
    tmp = link.with_name(f".{link.name}.new")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    if link.exists() and not link.is_symlink():  # a real directory from an older layout
        shutil.rmtree(link)
    os.replace(tmp, link)


def latest_date(report_dir: Path) -> str | None:
    link = report_dir / "latest"
    return os.readlink(link) if link.is_symlink() else None


def write_report(report_dir: Path, data: ReportData, title: str) -> Path:
    """Write report_dir/<date>/ and point report_dir/latest at it unless latest shows a later date (a past day
    regenerated leaves latest alone); returns the date's directory."""
    report_dir.mkdir(parents=True, exist_ok=True)
    day: date = data.report_date
    target = report_dir / day.isoformat()
    tmp = Path(tempfile.mkdtemp(prefix=f".{day.isoformat()}.", dir=report_dir))
    try:
        for name, text in render_files(data, title).items():
            (tmp / name).write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o755)
        _swap_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    current = latest_date(report_dir)
    if current is None or current <= target.name or not (report_dir / current).is_dir():
        _swap_symlink(report_dir / "latest", target.name)
    return target
