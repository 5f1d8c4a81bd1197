"""A real Airflow 3 deployment on loopback for tests: api-server, scheduler, dag-processor, triggerer.

LocalExecutor by default; `extra_env` switches the executor (tests/scale_out/celery_stack.py: CeleryExecutor on a
local Redis) and `launch` starts further Airflow processes such as Celery workers, stopped with the rest.

What `dag.test()` hides (separate task processes, pools across processes, serialisation, the
execution API, callbacks in the dag processor, deadlines in the triggerer) only shows up here.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AirflowStack:
    def __init__(self, home: Path, extra_env: dict[str, str] | None = None):
        self.home = home
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        (home / "passwords.json").write_text(json.dumps({"admin": "admin-pw"}))
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base}/execution/",
            # Five processes and the CLI share one SQLite file: on a loaded CI machine a writer waits up to
            # 60 s for another's transaction rather than sqlite3's 5 s (a lost race still fails: backfill_create).
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}?timeout=60",
            # The DAG file is parsed at start (wait_for_dag) and never changes during a test: parsing it again every
            # 5 s cost the other tests CPU. A failure callback still runs at once (the processor queues its file
            # first, whatever the interval).
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # The scheduler creates no scheduled runs: only what a test triggers or backfills runs, so the
            # DAG keeps its production schedule (a backfill needs one) without a nightly run joining in.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            "PYTHONPATH": str(PROJECT_ROOT),
            **(extra_env or {}),
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self.token: str | None = None

    def start(self, timeout_s: float = 120) -> None:
        subprocess.run([str(BIN / "opskpi"), "setup"], env=self.env, check=True, capture_output=True, text=True)
        for component in COMPONENTS:
            self._launch(component)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                health = requests.get(f"{self.base}/api/v2/monitor/health", timeout=2).json()
                if all(health.get(k, {}).get("status") == "healthy"
                       for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")):
                    break
            except (requests.RequestException, ValueError):
                pass
            self._check_alive()
            time.sleep(1)
        else:
            raise TimeoutError(f"Airflow did not become healthy in {timeout_s}s:\n{self.logs()}")
        reply = requests.post(f"{self.base}/auth/token", json={"username": "admin", "password": "admin-pw"}, timeout=10)
        reply.raise_for_status()
        self.token = reply.json()["access_token"]

    def _launch(self, component: str) -> None:
        args = [component]
        if component == "api-server":
            args += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.launch(component, args)

    def launch(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        """`airflow <args>` as process `name` of this deployment (log: <home>/<name>.log), in its own session so
        `stop` ends it with its children."""
        log = open(self.home / f"{name}.log", "a")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            [str(BIN / "airflow"), *args], env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        return self.processes[name]

    @contextmanager
    def without(self, component: str) -> Iterator[None]:
        """Stop one component for the block, then start it again."""
        self.stop_process(component)
        try:
            yield
        finally:
            self._launch(component)

    def stop_process(self, name: str) -> None:
        """Stop one process of the deployment (its whole session): SIGTERM, then SIGKILL after 30 s."""
        process = self.processes.pop(name)
        for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=wait_s)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {process.returncode}:\n{self.logs()}")

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.request(method, f"{self.base}/api/v2{path}", headers=headers, timeout=30, **kwargs)

    def wait_for_dag(self, dag_id: str, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.api("GET", f"/dags/{dag_id}").status_code == 200:
                return
            self._check_alive()
            time.sleep(1)
        raise TimeoutError(f"DAG {dag_id} was not parsed in {timeout_s}s:\n{self.logs()}")

    def trigger(self, dag_id: str, conf: dict) -> str:
        reply = self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        assert reply.status_code == 200, reply.text
        return reply.json()["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float = 600) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json().get("state")
            if state in ("success", "failed"):
                return state
            self._check_alive()
            time.sleep(2)
        raise TimeoutError(f"run {run_id} did not finish in {timeout_s}s:\n{self.logs()}")

    def runs(self, dag_id: str, **filters) -> list[dict]:
        """The DAG's runs in logical-date order, e.g. `runs(dag_id, run_type="backfill")`."""
        reply = self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100, "order_by": "logical_date", **filters})
        assert reply.status_code == 200, reply.text
        return reply.json()["dag_runs"]

    def cli(self, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
        """`airflow <args>` against this deployment's metadata database."""
        return subprocess.run([str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout_s)

    def backfill_create(self, *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess:
        """`airflow backfill create <args>`, tried again while SQLite alone refuses it.

        SQLite (these tests; deployments use Postgres) fails a write at once with "database is locked" when
        another component committed after the CLI's transaction began, whatever the busy timeout. Airflow
        then removes the partial backfill so that it can be retried; should that removal fail too, the
        scheduler clears the orphan after 2 minutes ("Another backfill is running" until then).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            # The scheduler is stopped meanwhile: it would otherwise load the runs of an attempt that SQLite then
            # refuses, and die on the rows Airflow removes ("ObjectDeletedError" in _schedule_all_dag_runs).
            with self.without("scheduler"):
                done = self.cli("backfill", "create", *args)
            locked, orphan = "database is locked" in done.stderr, "Another backfill is running" in done.stderr
            if done.returncode == 0 or not (locked or orphan) or time.monotonic() > deadline:
                return done
            print(f"airflow backfill create: {'database is locked' if locked else 'orphan'}, again")
            # An orphan is cleared by the running scheduler after 2 minutes.
            time.sleep(130 if orphan else 5)

    def wait_for_backfill(self, dag_id: str, expected: int, stall_s: float = 600,
                          on_success: Callable[[dict], None] | None = None) -> list[dict]:
        """Poll until `expected` backfill runs have succeeded and return them; `on_success(run)` is called once for
        each run as soon as it is seen succeeded (before the next runs go far: e.g. to read what it published).

        Fails at the first failed run, with its failed tasks' logs, rather than waiting for the rest; and
        when no further run succeeds for `stall_s`, so a hung backfill costs minutes, not CI's whole budget.
        """
        succeeded, last_progress = -1, time.monotonic()
        seen: set[str] = set()
        while True:
            runs = self.runs(dag_id, run_type="backfill")
            for run in runs:
                if on_success is not None and run["state"] == "success" and run["dag_run_id"] not in seen:
                    seen.add(run["dag_run_id"])
                    on_success(run)
            failed = [r["dag_run_id"] for r in runs if r["state"] == "failed"]
            if failed:
                raise AssertionError(f"backfill run {failed[0]} failed: {self.task_states(dag_id, failed[0])}\n"
                                     + self.failed_task_logs(dag_id, failed[0]))
            done = sum(r["state"] == "success" for r in runs)
            if done == expected == len(runs):
                return runs
            if done != succeeded:
                succeeded, last_progress = done, time.monotonic()
            elif time.monotonic() - last_progress > stall_s:
                states = {r["dag_run_id"]: r["state"] for r in runs}
                raise TimeoutError(f"backfill stalled: {done}/{expected} runs succeeded and none more in {stall_s}s;"
                                   f" runs: {states}\n{self.logs()}")
            self._check_alive()
            time.sleep(3)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        items = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
        return {f"{t['task_id']}[{t['map_index']}]" if t["map_index"] >= 0 else t["task_id"]: t["state"]
                for t in items}

    def failed_task_logs(self, dag_id: str, run_id: str, tail: int = 30) -> str:
        out = []
        for name, state in self.task_states(dag_id, run_id).items():
            if state not in ("failed", "upstream_failed", "up_for_retry"):
                continue
            task_id = name.split("[")[0]
            for path in sorted((self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
                                / f"task_id={task_id}").rglob("*.log")):
                out.append(f"--- {path.relative_to(self.home)} ---")
                for line in path.read_text(errors="replace").splitlines()[-tail:]:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        out.append(line[:500])
                        continue
                    if entry.get("level") in ("error", "warning") or entry.get("error_detail"):
                        out.append(json.dumps({k: entry.get(k) for k in ("event", "error_detail")})[:4000])
        return "\n".join(out)

    def logs(self, tail: int = 40) -> str:
        out = []
        for component in dict.fromkeys([*COMPONENTS, *self.processes]):
            path = self.home / f"{component}.log"
            if path.exists():
                lines = path.read_text(errors="replace").splitlines()[-tail:]
                out.append(f"--- {component} ---\n" + "\n".join(lines))
        return "\n".join(out)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for process in self.processes.values():  # LocalExecutor workers may ignore SIGTERM
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
