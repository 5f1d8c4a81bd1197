"""Start a dbt command for a data directory, with dbt's parse of the project shared by every data directory.

Why: a dbt process that finds no `partial_parse.msgpack` in its target directory parses the whole project (~6 s
of CPU on 2 cores, against ~2.6 s for a partial parse that checks every file against the saved one). A new data
directory (a first install, a backfill or benchmark into a scratch directory, every test of the suite) paid
that once per directory, and the dbt steps of a run (freshness, build, docs) start three processes.

How: dbt runs with the data directory as its working directory and the warehouse named relative to it
(dbt_project/profiles.yml reads `warehouse.duckdb` and `duckdb_tmp`), so the profile dbt hashes into its parse is
the same for every data directory of one configuration (dbt reparses everything when the profile's path
changes). After each dbt process, its parse is copied to a cache shared by the install (`seed_path`); a process
whose data directory has none of its own starts from that copy (`DBT_PARTIAL_PARSE_FILE_PATH`, which dbt only
reads). dbt itself decides whether the copy fits: it checks the dbt version, the project's files, the vars, the
profile and the environment variables the project reads, and parses whatever differs (everything, if need be).
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from importlib.metadata import version
from pathlib import Path

log = logging.getLogger(__name__)

PARSE_FILE = "partial_parse.msgpack"
# What dbt_project/profiles.yml reads: dbt reparses the whole project when the rendered profile changes.
# The Postgres target's (warehouse.type: postgres) too, but not its password: it is no part of a cache key.
PROFILE_ENV = ("OPSKPI_WAREHOUSE", "OPSKPI_DBT_THREADS", "OPSKPI_DUCKDB_MEMORY_LIMIT", "OPSKPI_DUCKDB_THREADS",
               "OPSKPI_DUCKDB_TEMP_DIRECTORY", "OPSKPI_DBT_TARGET", "OPSKPI_PG_HOST", "OPSKPI_PG_PORT",
               "OPSKPI_PG_USER", "OPSKPI_PG_DBNAME", "OPSKPI_PG_SCHEMA")
KEEP_SEEDS = 32  # parses (one per vars and profile) and docs pages kept; the least recently written go first


def _cached(kind: str, *key: str, suffix: str) -> Path | None:
    """None where there is no cache directory (no XDG_CACHE_HOME and no home): dbt then starts as it would."""
    if os.environ.get("XDG_CACHE_HOME"):
        base = Path(os.environ["XDG_CACHE_HOME"])
    else:
        try:
            base = Path.home() / ".cache"
        except RuntimeError:  # no HOME and no passwd entry (a bare container user)
            return None
    return base / "opskpi" / kind / f"{hashlib.sha256(chr(0).join(key).encode()).hexdigest()[:20]}{suffix}"


def seed_path(project_dir: Path, command: list[str], env: dict[str, str]) -> Path | None:
    """One per project directory (two clones never share one: dbt keeps paths in it), dbt version, vars and
    profile: configurations that differ in them keep their own parse instead of replacing each other's."""
    dbt_vars = command[command.index("--vars") + 1] if "--vars" in command else ""
    return _cached("dbt-parse", str(project_dir.resolve()), version("dbt-core"), dbt_vars,
                   *(f"{name}={env.get(name, '')}" for name in PROFILE_ENV), suffix=".msgpack")


def docs_page_path(project_dir: Path, inputs: str) -> Path | None:
    """The docs page made from `inputs` (opskpi/dbt_selection.py `docs_inputs`: code, vars and the warehouse's
    columns; equal inputs, equal page) by this install's dbt: a new data directory whose first build ends with
    the schema of an earlier one copies that page instead of starting `dbt docs generate` (~4 s)."""
    return _cached("dbt-docs", str(project_dir.resolve()), version("dbt-core"), inputs, suffix=".html")


def run(command: list[str], env: dict[str, str], data_dir: Path, target_dir: Path, project_dir: Path,
        lock_fd: int | None = None, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """`command` in `data_dir`, starting from the shared parse when the target directory has none yet."""
    own, seed = target_dir / PARSE_FILE, seed_path(project_dir, command, env)
    if seed is not None and not own.exists() and seed.exists() and "DBT_PARTIAL_PARSE_FILE_PATH" not in env:
        env = {**env, "DBT_PARTIAL_PARSE_FILE_PATH": str(seed)}
    completed = subprocess.run(command, env=env, cwd=data_dir, capture_output=True, text=True, timeout=timeout,
                               pass_fds=() if lock_fd is None else (lock_fd,))
    share(own, seed)
    return completed


def share(own: Path, shared: Path | None) -> None:
    """Replace the shared copy with this directory's file when it is newer (atomically: a reader sees the old
    file or the new one), keeping the `KEEP_SEEDS` newest of its kind. A cache that cannot be written (a
    read-only home) only costs the next new directory the work the copy would have saved."""
    if shared is None:
        return
    try:
        if not own.exists() or (shared.exists() and shared.stat().st_mtime >= own.stat().st_mtime):
            return
        shared.parent.mkdir(parents=True, exist_ok=True)
        partial = shared.with_name(f".{shared.name}.{os.getpid()}")
        partial.write_bytes(own.read_bytes())
        os.replace(partial, shared)
        kept = sorted(shared.parent.glob(f"*{shared.suffix}"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[KEEP_SEEDS:]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.debug("dbt cache %s not updated: %s", shared, exc)
