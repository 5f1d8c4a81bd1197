"""Running the pipeline's steps in-process (no Airflow) against the emulator, for the reliability tests."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from opskpi import pipeline
from opskpi.config import Config, load_config

EMULATOR_NOW = "2026-11-20T06:00:00Z"
RUN_DATE = date(2026, 11, 19)
NOW = datetime(2026, 11, 20, 6, tzinfo=UTC)
TOKENS = {"TEST_JIRA_TOKEN": "jira-demo-token", "TEST_PD_TOKEN": "pd-demo-token", "TEST_GH_TOKEN": "gh-demo-token"}
# Great Expectations' in-process context is not thread-safe: runs sharing a process validate one at a time
# (under Airflow every task is its own process).
_GX = threading.Lock()


def small_config(data_dir: Path, base_url: str, sources=("jira", "pagerduty", "github"), history_days: int = 30,
                 **source_extra) -> dict:
    """One repository, one project, a few weeks of history: every stream, few requests."""
    extra = {"read_timeout": "5s", **source_extra}
    all_sources = {
        "jira": {"base_url": f"{base_url}/jira", "email": "demo@example.com", "token_env": "TEST_JIRA_TOKEN",
                 "projects": ["OPS"], **extra},
        "pagerduty": {"base_url": f"{base_url}/pagerduty", "token_env": "TEST_PD_TOKEN", **extra},
        "github": {"base_url": f"{base_url}/github", "token_env": "TEST_GH_TOKEN", "repos": ["acme/api"], **extra},
    }
    return {
        "data_dir": str(data_dir),
        "history_days": history_days,
        "reporting": {"timezone": "UTC"},
        "sources": {name: all_sources[name] for name in sources},
        "services": {},
    }


def write_config(path: Path, raw: dict) -> Config:
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return load_config(path)


def context(config: Config, run_id: str) -> pipeline.RunContext:
    return pipeline.RunContext.for_date(config, RUN_DATE, run_id, now=NOW)


def run_all(config: Config, run_id: str) -> dict[str, Any]:
    """extract (the sources in parallel, as Airflow runs them) → validate → load → transform → publish."""
    ctx = context(config, run_id)
    sources = config.enabled_sources()
    with ThreadPoolExecutor(len(sources)) as pool:
        extracted = dict(zip(sources, pool.map(lambda s: pipeline.extract(config, s, ctx), sources), strict=True))
    with _GX:
        for source in sources:
            pipeline.validate(config, source, ctx)
    loaded = pipeline.load(config, ctx)
    pipeline.transform(config, ctx)
    published = pipeline.publish(config, ctx)
    return {"extracted": extracted, "loaded": loaded, "published": published}


def requests_made(extracted: dict[str, Any]) -> int:
    """HTTP attempts of a run's extracts, retries included."""
    return sum(stream["requests"] for source in extracted.values() for stream in source.values())


def retries_made(extracted: dict[str, Any]) -> int:
    """Attempts that did not yield a page: the failures the run rode out."""
    return requests_made(extracted) - sum(s["pages"] for source in extracted.values() for s in source.values())
