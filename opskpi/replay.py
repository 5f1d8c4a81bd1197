"""`opskpi replay`: put a quarantined batch back through the guard and into the warehouse.

A batch is quarantined when it fails a critical expectation (or the warehouse refuses a value). Once
the cause is fixed (a suite that was too strict, an extractor bug, a stream declaration), replaying
moves the batch back to landing, keeps the earlier verdict beside it for the record, validates it
again (by today's rules, including today's timestamp bounds) and loads it. The merge is idempotent and
only newer versions replace older ones, so an old batch replayed after newer loads changes only the rows
it really has newer, and watermarks never move back. A batch that fails again goes back to quarantine
with the new verdict.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractors import landing_store
from extractors.landing import MANIFEST, read_manifest
from opskpi import pipeline
from opskpi.config import Config, ConfigError
from opskpi.load import LOAD_ERROR_FILE, VALIDATION_FILE

log = logging.getLogger(__name__)


def replay(config: Config, batch: str | Path, publish: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Move `batch` (a directory under the quarantine) back to landing, validate and load it.

    Raises ConfigError for a path that is not a quarantined batch, GuardFailure when it fails again.
    """
    quarantine = config.quarantine_dir
    if landing_store.is_local(quarantine):
        path = Path(batch).expanduser().resolve()
        quarantine = quarantine.resolve()
        inside = path.is_relative_to(quarantine)
    else:  # an object-store quarantine (landing.quarantine_url, or beside an s3:// landing): the batch's URL
        path = landing_store.open_root(str(batch).rstrip("/"), config.landing.endpoint_url)
        inside = not landing_store.is_local(path) and str(path).startswith(f"{quarantine}/")
    if not inside or not (path / MANIFEST).is_file():
        raise ConfigError(f"--batch: {path} is not a quarantined batch; pick a directory under {quarantine} "
                          f"that holds a {MANIFEST}")
    manifest = read_manifest(path)
    source, stream = manifest["source"], manifest["stream"]
    if source not in config.enabled_sources():
        raise ConfigError(f"--batch: source {source} is not enabled in {config.path or 'the config'}; enable it first")
    target = config.landing_dir / source / stream / path.name
    if target.exists():
        raise ConfigError(f"--batch: {target} already exists in landing; it was replayed already")
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    for name in (VALIDATION_FILE, LOAD_ERROR_FILE):  # the old verdicts stay with the batch, renamed
        if (path / name).exists():
            landing_store.rename(path / name, path / f"{Path(name).stem}.{stamp}.rejected.json")
    landing_store.move_tree(path, target)
    log.info("replaying %s__%s batch %s from quarantine", source, stream, path.name)
    ctx = pipeline.RunContext.for_date(config, (now or datetime.now(UTC)).date(), run_id=f"replay-{path.name}",
                                       now=now)
    summary: dict[str, Any] = {"batch": path.name, "source": source, "stream": stream}
    summary["validate"] = pipeline.validate(config, source, ctx)  # GuardFailure: quarantined again
    summary["load"] = pipeline.load(config, ctx)
    if publish:
        summary["transform"] = pipeline.transform(config, ctx)
        summary["publish"] = pipeline.publish(config, ctx)
    return summary
