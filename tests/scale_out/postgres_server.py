"""A throwaway PostgreSQL server for the scale-out tests: initdb in a fresh directory, started on a free loopback port,
always stopped (and its directory removed) afterwards, also when the test fails.

Debian's server binaries (`/usr/lib/postgresql/<major>/bin`) refuse to run as root, so under root they run as the
`postgres` user (`runuser`) in a directory that user owns, made under the system temp directory (pytest's own temp
directories are private to root). fsync and full-page writes are off: the data is rebuilt by every test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
START_TIMEOUT_S = 120  # `pg_ctl -w` waits until the server accepts connections (a loaded 2-core machine is slow)


def pg_bin() -> Path | None:
    """The newest installed server's bin directory, or None when no PostgreSQL server is installed."""
    for directory in PG_BIN_DIRS:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server(databases: tuple[str, ...] = ("opskpi",), attempts: int = 3) -> Iterator[dict[str, object]]:
    """Yields {host, port, user, bin}; each of `databases` exists. A port taken between choosing and binding it
    (another process on the machine) is retried with a new one."""
    bin_dir = pg_bin()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="opskpi-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, log = root / "data", root / "server.log"
    try:
        subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                        "-E", "UTF8", "--no-sync", "--locale=C"]),
                       check=True, capture_output=True, text=True, timeout=START_TIMEOUT_S)
        for attempt in range(attempts):
            port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off "
                       "-c synchronous_commit=off -c TimeZone=UTC")
            started = subprocess.run(
                _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                                 "-t", str(START_TIMEOUT_S), "-o", options, "start"]),
                capture_output=True, text=True, timeout=START_TIMEOUT_S + 30)
            if started.returncode == 0:
                break
            if attempt == attempts - 1:
                raise RuntimeError(f"PostgreSQL did not start: {started.stdout}{started.stderr}\n"
                                   f"{log.read_text() if log.exists() else ''}")
        try:
            import psycopg2  # the scale-out extra's; `make test` collects this module without it

            admin = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
            try:
                admin.autocommit = True
                with admin.cursor() as cur:
                    for name in databases:
                        cur.execute(f'CREATE DATABASE "{name}"')
            finally:
                admin.close()
            yield {"host": "127.0.0.1", "port": port, "user": "postgres", "bin": bin_dir}
        finally:
            subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                                            "-t", str(START_TIMEOUT_S), "stop"]),
                           capture_output=True, text=True, timeout=START_TIMEOUT_S + 30)
    finally:
        shutil.rmtree(root, ignore_errors=True)
