"""dbt's exposures name who reads the marts (issue 19, item 5): the lists must not drift from the readers."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def exposure(name: str) -> set[str]:
    document = yaml.safe_load((ROOT / "dbt_project" / "models" / "marts" / "_exposures.yml").read_text())
    found = next(e for e in document["exposures"] if e["name"] == name)
    return {re.fullmatch(r"ref\('(\w+)'\)", ref).group(1) for ref in found["depends_on"]}


def test_the_dashboards_exposure_lists_exactly_the_marts_the_evidence_sources_read():
    sources = ROOT / "bi" / "evidence" / "sources" / "opskpi"
    read = {m for path in sources.glob("*.sql") for m in re.findall(r"\bmarts\.(\w+)", path.read_text())}
    assert len(read) >= 7
    assert exposure("evidence_dashboards") == read
