"""Airflow with CeleryExecutor on loopback: a real redis-server broker, the AirflowStack of tests/e2e, and named
Celery workers, each serving its own queues (the shape docs/deploy.md describes for several hosts).

Every worker reports its name as the hostname of the task instances it runs (`AIRFLOW__CORE__HOSTNAME_CALLABLE`,
`worker_hostname` below): on one test machine all workers share the real hostname, on several hosts each would
report its own. So "which worker ran this task" is read from Airflow's own record of the task instance.

SQLite holds the metadata DB and the Celery results (one host; scale-out-verified.md §2): a deployment across
hosts needs Postgres, which every worker must reach.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from opskpi import processes
from tests.e2e.airflow_stack import AirflowStack, free_port

WORKER_NAME_ENV = "OPSKPI_TEST_WORKER_NAME"


def worker_hostname() -> str:
    """The hostname a task instance records: the worker's name when the test gave it one."""
    return os.environ.get(WORKER_NAME_ENV) or socket.getfqdn()


class RedisServer:
    """redis-server on 127.0.0.1 and a free port, without persistence, in its own directory."""

    def __init__(self, directory: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: apt-get install -y redis-server "
                               "(make test-scale-out's CI step does it)")
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = directory / "redis.log"
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(directory), "--logfile", str(self.log_path), "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {self._log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"redis-server did not answer PING in {timeout_s}s: {self._log()}")

    def _log(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        processes.stop(self.process)


def celery_env(home: Path, broker_url: str) -> dict[str, str]:
    """What turns the AirflowStack into a CeleryExecutor deployment (scale-out-verified.md §2)."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+sqlite:///{home / 'celery-results.db'}",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
        # Scheduler, API server and workers on one machine: a task sent to Celery must not be failed as stuck
        # while a loaded CI machine is slow to start the worker's task process.
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "1800",
    }


def start_worker(stack: AirflowStack, name: str, queues: list[str], concurrency: int,
                 timeout_s: float = 180) -> None:
    """`airflow celery worker` named `name` on `queues`, waited for until Celery says it is ready.

    Only the first worker of a host may serve task logs on the log server port; the others skip it (the API
    server reads the task logs from the shared AIRFLOW_HOME here)."""
    args = ["celery", "worker", "--queues", ",".join(queues), "--concurrency", str(concurrency),
            "--celery-hostname", f"{name}@%h", "--skip-serve-logs"]
    stack.launch(f"worker-{name}", args, env={WORKER_NAME_ENV: name})
    log = stack.home / f"worker-{name}.log"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and f"{name}@" in (text := log.read_text(errors="replace")) and " ready." in text:
            return
        stack._check_alive()
        time.sleep(0.5)
    raise TimeoutError(f"celery worker {name} was not ready in {timeout_s}s:\n{stack.logs()}")
