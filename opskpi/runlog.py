"""Structured run logs: every line our code logs during a step, as JSON, tagged with the run id.

Airflow keeps a log per task try, which answers "what did this task do" but not "what happened in
run X" across a dozen mapped tasks, and `opskpi run` prints for a human. So each pipeline step also
appends its records to `data/logs/runs/<run id>.jsonl`, one JSON object per line with the run id,
step, source and partition, for `jq` or a log shipper. Every process of a run appends to the same
file; each record is one `write` on a file opened for appending, so lines from parallel tasks do not
interleave. Messages are already redacted where they are made (`extractors.http`); the canary-token
test reads these files like every other file under `data/`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The loggers whose records belong to a run (the step's own, the extractors', the guard's).
RUN_LOGGERS = ("opskpi", "extractors", "expectations")
CONTEXT_FIELDS = ("run_id", "step", "source", "partition")
_context: ContextVar[dict[str, Any]] = ContextVar("opskpi_run_log", default={})  # noqa: B039 - never mutated


def log_path(logs_dir: Path, run_id: str) -> Path:
    """A file name from a run id (Airflow's contain ':' and '+')."""
    return logs_dir / (re.sub(r"[^A-Za-z0-9._-]", "_", run_id) + ".jsonl")


class RunContextFilter(logging.Filter):
    """Puts the current step's run id, step, source and partition on each record (None outside a step)."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = _context.get()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, current.get(name))
        return True


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            **{name: getattr(record, name, None) for name in CONTEXT_FIELDS},
            "message": record.getMessage(),
        }
        for extra in ("progress", "summary"):
            if hasattr(record, extra):
                entry[extra] = getattr(record, extra)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


@contextmanager
def step_logging(logs_dir: Path, run_id: str, step: str, **fields: Any) -> Iterator[Path]:
    """Tag and copy everything logged inside the block to the run's JSON lines file.

    A step that fails leaves its error there too, before the exception goes on to Airflow."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    path = log_path(logs_dir, run_id)
    token = _context.set({"run_id": run_id, "step": step, **fields})
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(JsonLinesFormatter())
    handler.addFilter(RunContextFilter())
    handler.setLevel(logging.INFO)
    loggers = [logging.getLogger(name) for name in RUN_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
    try:
        yield path
    except Exception as exc:
        if not type(exc).__name__.endswith("SkipException"):  # a skipped source is not a failure
            logging.getLogger("opskpi.runlog").error("%s failed: %s: %s", step, type(exc).__name__, exc)
        raise
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
        handler.close()
        _context.reset(token)
