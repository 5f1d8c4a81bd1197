"""A pipeline run in a child process, for the crash-safety test to kill.

    python -m tests.reliability.crash_child CONFIG RUN_ID FIRST_STEP

runs FIRST_STEP and every later step (extract → validate → load → transform → publish), the way an
Airflow retry of a failed task runs it and its downstream tasks. Before each step it prints
`phase <step>` (flushed), so the parent can time a kill into that step. `OPSKPI_CRASH_AT` arms a
deterministic crash point (extractors/crashpoints.py).
"""

from __future__ import annotations

import logging
import sys

from opskpi import pipeline
from opskpi.config import load_config
from tests.reliability.runs import context

STEPS = ("extract", "validate", "load", "transform", "publish")


def main(argv: list[str]) -> int:
    config_path, run_id, first = argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = load_config(config_path)
    ctx = context(config, run_id)
    for step in STEPS[STEPS.index(first):]:
        print(f"phase {step}", flush=True)
        if step in ("extract", "validate"):
            for source in config.enabled_sources():
                getattr(pipeline, step)(config, source, ctx)
        else:
            getattr(pipeline, step)(config, ctx)
    print("phase done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
