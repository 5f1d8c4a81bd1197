"""Access to the live warehouse, serialised across processes.

DuckDB allows one read-write process or many readers, never both, and fails fast on a conflict.
Every step that opens the warehouse takes an exclusive file lock first, so a second run (or a
backfill next to the nightly run) waits its turn with a clear message instead of crashing on
DuckDB's lock or interleaving writes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)


class WarehouseBusy(RuntimeError):
    pass


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB; names from configs and APIs never reach SQL bare."""
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def exclusive_lock(lock_path: Path, timeout_s: float, poll_s: float = 0.5) -> Iterator[None]:
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
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"the warehouse {lock_path.with_suffix('')} is in use by {holder} for more than "
                        f"{timeout_s:.0f}s; wait for that run to finish or stop it, then retry"
                    ) from None
                if not announced:
                    log.warning("waiting for the warehouse lock held by %s", holder)
                    announced = True
                time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class Warehouse:
    def __init__(self, path: Path, lock_timeout_s: float = 3600.0):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout_s = lock_timeout_s

    @contextmanager
    def lock(self) -> Iterator[None]:
        with exclusive_lock(self.lock_path, self.lock_timeout_s):
            yield

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection under the lock; the caller commits. Read-only on a missing file yields None."""
        with self.lock():
            if read_only and not self.path.exists():
                yield None
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(self.path), read_only=read_only)
            try:
                con.execute("SET TimeZone = 'UTC'")
                yield con
            finally:
                con.close()
