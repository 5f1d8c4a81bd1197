"""The published Parquet set, mirrored to an object store (`publish.parquet_url`) for BI readers on other hosts.

The local publish (opskpi/publish.py) stays what it is: the DuckDB file and the Parquet set swapped in on the
warehouse's host. Then its version goes to the store with the landing batches' protocol (extractors/landing_store.py):
the Parquet files to `<url>/versions/<version>/parquet/<table>.parquet`, then the version's `manifest.json`, put
last and only if absent (a version is never overwritten), then `<url>/current.json` names it: one PUT, so a reader
that reads the pointer and then that version's files always gets one complete set, old or new. The pointer only
moves forward (versions are timestamps): a slower publish of an older version never replaces a newer one.

A publish killed during the upload leaves a version prefix without manifest that no pointer names; a later
publish removes it, as it removes versions past KEEP_VERSIONS, never one younger than MIN_VERSION_AGE_S (a reader
that read the previous pointer a moment ago may still be reading it).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from extractors import landing_store
from extractors.landing_store import StorePath
from opskpi.publish import KEEP_VERSIONS, MIN_VERSION_AGE_S, VERSION_MANIFEST

log = logging.getLogger(__name__)

POINTER = "current.json"


def current_version(root: StorePath) -> str | None:
    pointer = root / POINTER
    return json.loads(pointer.read_text())["version"] if pointer.exists() else None


def mirror(version_dir: Path, root: StorePath, now: float | None = None) -> dict[str, Any]:
    """Upload one published version (a local `versions/<version>` directory) and point `current.json` at it."""
    version = version_dir.name
    target = root / "versions" / version
    manifest = (version_dir / VERSION_MANIFEST).read_bytes()
    uploaded = 0
    if not (target / VERSION_MANIFEST).exists():
        for part in sorted((version_dir / "parquet").glob("*.parquet")):
            (target / "parquet" / part.name).write_bytes(part.read_bytes())
            uploaded += 1
        landing_store.create_new(target / VERSION_MANIFEST, manifest)
    current = current_version(root)
    moved = current is None or current < version
    if moved:
        landing_store.write_replace(root / POINTER, json.dumps(
            {"version": version, "parquet": f"versions/{version}/parquet/",
             "manifest": f"versions/{version}/{VERSION_MANIFEST}"}, indent=2).encode())
    else:
        log.warning("published version %s mirrored, but %s already names the newer %s: left as it is",
                    version, POINTER, current)
    _prune(root, keep={version, current_version(root)}, now=time.time() if now is None else now)
    return {"url": str(target), "files": uploaded, "current": moved}


def _prune(root: StorePath, keep: set[str | None], now: float) -> None:
    """Remove versions past the KEEP_VERSIONS newest complete ones, and unfinished uploads, once old enough."""
    fs, base = root.fs, f"{root.path}/versions"
    if not fs.exists(base):
        return
    entries = {Path(p).name: p for p in fs.ls(base, detail=False)}
    complete = sorted(name for name in entries if fs.exists(f"{entries[name]}/{VERSION_MANIFEST}"))
    doomed = [n for n in complete[:-KEEP_VERSIONS]] + [n for n in entries if n not in complete]
    for name in doomed:
        if name in keep:
            continue
        times = [info["LastModified"].timestamp() for info in fs.find(entries[name], detail=True).values()
                 if info.get("LastModified") is not None]
        if times and now - max(times) >= MIN_VERSION_AGE_S:
            fs.rm(entries[name], recursive=True)
            log.info("removed the mirrored published version %s", name)
