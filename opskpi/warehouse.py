"""Access to the live warehouse, serialised across processes.

DuckDB allows one read-write process or many readers, never both, and fails fast on a conflict.
Every step that opens the warehouse takes an exclusive file lock first, so a second run (or a
backfill next to the nightly run) waits its turn with a clear message instead of crashing on
DuckDB's lock or interleaving writes. The lock is an `flock` on `warehouse.duckdb.lock`: the kernel
drops it when its holder dies, however it dies, so a crashed run never leaves the warehouse locked.
A child process that writes the warehouse (dbt) inherits the locked descriptor and holds the lock
until it exits, even if the parent is killed first.

`OPSKPI_LOCK_TIMEOUT_S` (default 3600) bounds the wait; past it the step fails naming the holder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)


DEFAULT_LOCK_TIMEOUT_S = 3600.0


class WarehouseBusy(RuntimeError):
    """Another process held the warehouse lock for longer than we were willing to wait."""


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB; names from configs and APIs never reach SQL bare."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A SQL string literal (DDL such as ATTACH and COMMENT ON takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


@contextmanager
def exclusive_lock(lock_path: Path, timeout_s: float, poll_s: float = 0.5, busy: str | None = None) -> Iterator[int]:
    """Hold an exclusive `flock` on `lock_path`; yields the locked descriptor (pass it to a child that
    must keep the lock: `subprocess.run(..., pass_fds=[fd])`). `busy` is the message raised when the
    wait times out, with `{holder}` and `{timeout}` filled in."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(fd, 256, 0).decode(errors="replace").strip() or "another process"
                if time.monotonic() >= deadline:
                    if busy is not None:
                        raise WarehouseBusy(busy.format(holder=holder, timeout=f"{timeout_s:.0f}s")) from None
                    raise WarehouseBusy(
                        f"the warehouse {lock_path.with_suffix('')} is in use by {holder}: waited "
                        f"{timeout_s:.0f}s for it; another opskpi run is writing it, so wait for that run "
                        f"to finish (or stop it) and retry; OPSKPI_LOCK_TIMEOUT_S sets how long to wait"
                    ) from None
                if not announced:
                    log.warning("the warehouse is in use by %s: waiting up to %.0fs for it", holder, timeout_s)
                    announced = True
                time.sleep(poll_s)
        os.ftruncate(fd, 0)
        since = datetime.now(UTC).isoformat(timespec="seconds")
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}".encode(), 0)
        yield fd
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


RUN_LOCK = ".opskpi-run.lock"


@contextmanager
def run_lock(data_dir: Path) -> Iterator[int]:
    """One `opskpi run` per data directory at a time: a second one is refused at once, saying who runs."""
    with exclusive_lock(
        Path(data_dir) / RUN_LOCK, 0.0,
        busy=f"another opskpi run is using the data directory {data_dir} ({{holder}}); wait for it to finish, "
             "or stop it, then run again",
    ) as fd:
        yield fd


PUBLISHED_COPY = "published/opskpi.duckdb"


def held_elsewhere(path: Path, error: str) -> str:
    """What to say when DuckDB's own lock refuses us: not another opskpi step (they queue on our lock), so a program
    that opened the live warehouse itself, usually a BI tool or a notebook that should read the published copy."""
    holder = re.search(r"Conflicting lock is held in (.+?)(?:\. |$)", error)
    published = path.parent / PUBLISHED_COPY
    return (f"the live warehouse {path} is open in another program ({holder.group(1) if holder else 'unknown'}), "
            f"not an opskpi run: BI tools, notebooks and the duckdb CLI must read the published copy {published} "
            "(replaced atomically on each publish, never locked: docs/bi.md). Close that program and run again.")


class Warehouse:
    def __init__(self, path: Path, lock_timeout_s: float | None = None):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        if lock_timeout_s is None:
            lock_timeout_s = float(os.environ.get("OPSKPI_LOCK_TIMEOUT_S") or DEFAULT_LOCK_TIMEOUT_S)
        self.lock_timeout_s = lock_timeout_s

    @contextmanager
    def lock(self) -> Iterator[int]:
        """The exclusive lock; yields its descriptor for a child process that must hold it too."""
        with exclusive_lock(self.lock_path, self.lock_timeout_s) as fd:
            yield fd

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection under the lock; the caller commits. Read-only on a missing file yields None."""
        with self.lock():
            if read_only and not self.path.exists():
                yield None
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                raise WarehouseBusy(held_elsewhere(self.path, str(exc))) from None
            try:
                con.execute("SET TimeZone = 'UTC'")
                yield con
            finally:
                con.close()
