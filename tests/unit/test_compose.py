"""docker-compose.yml, Dockerfile, .dockerignore and .env.example, checked without a Docker engine.

The compose file is interpolated the way `docker compose` does it (with the values of .env.example plus
placeholder secrets), then validated against the Compose Specification JSON schema that check-jsonschema
ships (`vendor.compose-spec`: nothing is downloaded). On top of the schema: every referenced path exists,
every `airflow ...` command parses with the installed Airflow's own CLI parser, the emulator's command
uses flags the emulator has (and really starts), the pools equal `opskpi.cli.POOLS`, every ${VAR} is
documented, and the base image matches the pinned Airflow.
"""

from __future__ import annotations

import copy
import fnmatch
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path, PurePosixPath

import jsonschema
import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema

from opskpi.cli import POOLS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"

AIRFLOW_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker", "airflow-worker-extract"}
# The extract workers of the celery profile have no data volume: they need none (docs/deploy.md).
WITHOUT_DATA = {"airflow-worker-extract"}
PROFILES = {"postgres": [], "airflow-init": [], "airflow-apiserver": [], "airflow-scheduler": [],
            "airflow-dag-processor": [], "airflow-triggerer": [], "emulator": ["demo"], "redis": ["celery"],
            "minio": ["celery"], "minio-init": ["celery"], "airflow-worker": ["celery"],
            "airflow-worker-extract": ["celery"]}
SECRETS = {"AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_FERNET_KEY", "AIRFLOW_ADMIN_PASSWORD"}
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
DATA_DIR_IN_CONTAINER = "/opt/opskpi/data"


# --- compose variable interpolation (https://github.com/compose-spec/compose-spec/blob/main/12-interpolation.md)

# `$$` is a literal `$`; `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`,
# `${NAME:+alt}`, `${NAME+alt}` and `$NAME` are substituted; any other `$` is an error for `docker compose`.
_DOLLAR = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*)|(?P<invalid>))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.S)


class InterpolationError(ValueError):
    pass


def _references(text: str) -> list[tuple[str, str | None, str | None]]:
    refs = []
    for m in _DOLLAR.finditer(text):
        if m["escaped"]:
            continue
        if m["named"]:
            refs.append((m["named"], None, None))
            continue
        braced = _BRACED.fullmatch(m["braced"] or "") if m["invalid"] is None else None
        if braced is None or "$" in (braced["arg"] or ""):
            raise InterpolationError(f"invalid or nested interpolation at {text[m.start():m.start() + 40]!r} "
                                     "(write a literal $ as $$)")
        refs.append((braced["name"], braced["op"], braced["arg"]))
    return refs


def interpolate(text: str, env: dict[str, str]) -> str:
    _references(text)  # raises on invalid syntax

    def substitute(m: re.Match) -> str:
        if m["escaped"]:
            return "$"
        if m["named"]:
            return env.get(m["named"], "")
        name, op, arg = _BRACED.fullmatch(m["braced"]).group("name", "op", "arg")
        value = env.get(name)
        empty = value is None or (op is not None and op.startswith(":") and value == "")
        if op in ("-", ":-"):
            return arg if empty else value
        if op in ("?", ":?"):
            if empty:
                raise InterpolationError(f"required variable {name} is missing: {arg}")
            return value
        if op in ("+", ":+"):
            return "" if empty else arg
        return value or ""

    return _DOLLAR.sub(substitute, text)


def _walk_strings(node, fn):
    if isinstance(node, dict):
        return {k: _walk_strings(v, fn) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk_strings(v, fn) for v in node]
    return fn(node) if isinstance(node, str) else node


def env_example() -> dict[str, str]:
    """The uncommented assignments of .env.example."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


def documented_variables() -> set[str]:
    """Variables .env.example sets or shows commented out (`# NAME=default`)."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))


def filled_env() -> dict[str, str]:
    """.env.example with the secrets filled in, as a user's .env would be."""
    return {**env_example(), **{name: f"test-{name.lower()}" for name in SECRETS}}


@pytest.fixture(scope="module")
def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())  # YAML anchors and `<<` merge keys resolved, as compose does


@pytest.fixture(scope="module")
def compose(raw_compose) -> dict:
    return _walk_strings(copy.deepcopy(raw_compose), lambda s: interpolate(s, filled_env()))


def compose_variables(raw_compose) -> dict[str, list[tuple[str | None, str | None]]]:
    found: dict[str, list[tuple[str | None, str | None]]] = {}
    _walk_strings(raw_compose, lambda s: [found.setdefault(n, []).append((op, arg)) for n, op, arg in _references(s)])
    return found


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


# --- commands -------------------------------------------------------------------------------------------

def _argv(command) -> list[str]:
    return list(command) if isinstance(command, list) else shlex.split(command)


def _shell_commands(script: str) -> list[list[str]]:
    """Simple commands of a shell script (one per line, `\\` continuations joined, `exec` dropped)."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"\s*(?:&&|\|\||;)\s*", line):
            try:
                argv = shlex.split(part)
            except ValueError:
                continue
            while argv and argv[0] in ("exec", "then", "else", "do"):
                argv = argv[1:]
            if argv:
                commands.append(argv)
    return commands


def service_commands(service: dict) -> list[list[str]]:
    """Every command a service runs, as argv lists: its command (through the image's entrypoint, which runs
    `bash`/`python` as given and anything else as `airflow ...`) and its healthcheck."""
    commands = []
    if "command" in service:
        argv = _argv(service["command"])
        if argv[:2] == ["bash", "-c"]:
            commands += _shell_commands(argv[2])
        elif argv[0] in ("python", "airflow"):
            commands.append(argv)
        else:
            commands.append(["airflow", *argv])
    test = (service.get("healthcheck") or {}).get("test")
    if test:
        test = _argv(test)
        if test[0] == "CMD-SHELL":
            commands += _shell_commands(" ".join(test[1:]))
        elif test[0] == "CMD":
            commands.append(test[1:])
    return commands


def airflow_commands(compose) -> dict[str, list[list[str]]]:
    """The `airflow …` commands of the services built from this project's image (other images, such as MinIO's,
    have entrypoints of their own)."""
    return {name: [argv[1:] for argv in service_commands(svc) if argv[0] == "airflow"]
            for name, svc in compose["services"].items() if "build" in svc}


_PARSE_SCRIPT = """
import json, sys
from airflow.cli.cli_parser import get_parser
parser = get_parser()
results = []
for argv in json.loads(sys.argv[1]):
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:
        results.append({"ok": False, "code": exc.code})
    else:
        results.append({"ok": True, "args": {k: v for k, v in vars(ns).items() if isinstance(v, (str, int))}})
print(json.dumps(results))
"""


def parse_with_airflow(argvs: list[list[str]], tmp_path: Path, **env: str) -> list[dict]:
    """Parse each argv with the installed Airflow's CLI parser, in a child process so this test run's
    own Airflow settings (read once at import) stay untouched."""
    child_env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                 **env}
    done = subprocess.run([sys.executable, "-c", _PARSE_SCRIPT, json.dumps(argvs)], env=child_env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the Compose Specification ---------------------------------------------------------------------------

def test_compose_file_is_valid_against_the_compose_specification(compose):
    schema = get_builtin_schema("vendor.compose-spec")
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors)


def test_the_schema_rejects_a_broken_compose_file(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["airflow-scheduler"]["comand"] = broken["services"]["airflow-scheduler"].pop("command")
    broken["services"]["postgres"]["healthcheck"]["retries"] = [5]
    errors = list(jsonschema.Draft202012Validator(get_builtin_schema("vendor.compose-spec")).iter_errors(broken))
    assert len(errors) >= 2


def test_services_and_profiles(compose):
    services = compose["services"]
    assert {name: svc.get("profiles", []) for name, svc in services.items()} == PROFILES
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            dep_profiles = set(services[dep].get("profiles", []))
            if dep_profiles and spec.get("required", True):
                assert dep_profiles <= set(svc.get("profiles", [])), \
                    f"{name} would not start without profile {sorted(dep_profiles)} (depends on {dep})"


def test_airflow_services_share_one_image_and_environment(raw_compose, compose):
    services = compose["services"]
    common_env = environment(raw_compose["x-airflow-common"])
    for name in AIRFLOW_SERVICES:
        svc = services[name]
        assert svc["build"] == "." and svc["image"] == services["airflow-apiserver"]["image"], name
        assert set(common_env) <= set(environment(raw_compose["services"][name])), f"{name} lost common env"
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert svc["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["emulator"]["image"] == services["airflow-apiserver"]["image"]
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in COMPOSE.read_text(), "install at build time, not at start"


def test_airflow_environment(compose):
    env = environment(compose["services"]["airflow-scheduler"])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    sql_conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert re.fullmatch(r"postgresql\+psycopg2://airflow:[^@]+@postgres/airflow", sql_conn), sql_conn
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "False"
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
    assert env["OPSKPI_EMULATOR_URL"] == "http://emulator:8765"
    assert re.fullmatch(r"redis://[^/]*@redis:6379/\d+", env["AIRFLOW__CELERY__BROKER_URL"])
    postgres = environment(compose["services"]["postgres"])
    assert f":{postgres['POSTGRES_PASSWORD']}@" in sql_conn


def test_secrets_are_required_and_not_shipped(raw_compose):
    variables = compose_variables(raw_compose)
    for name in SECRETS:
        assert variables[name] and all(op == ":?" for op, _ in variables[name]), f"{name} must be ${{{name}:?...}}"
        assert env_example()[name] == "", f".env.example must not ship a value for {name}"
    with pytest.raises(InterpolationError, match="AIRFLOW_"):
        _walk_strings(raw_compose, lambda s: interpolate(s, env_example()))


def test_every_variable_is_documented_in_env_example(raw_compose):
    used = set(compose_variables(raw_compose))
    documented = documented_variables()
    assert used - documented == set(), f"undocumented in .env.example: {sorted(used - documented)}"
    assert documented - used == set(), f".env.example documents unused variables: {sorted(documented - used)}"


def test_api_tokens_are_passed_through(raw_compose):
    demo = yaml.safe_load((ROOT / "config" / "demo.yml").read_text())
    token_vars = {source["token_env"] for source in demo["sources"].values()}
    env = environment(raw_compose["x-airflow-common"])
    for name in token_vars:
        assert re.fullmatch(rf"\$\{{{name}(:-)?\}}", str(env.get(name))), f"pass {name} through as ${{{name}:-}}"


def test_celery_profile_switches_executor_by_variable(raw_compose, compose):
    executor = environment(raw_compose["x-airflow-common"])["AIRFLOW__CORE__EXECUTOR"]
    assert executor == "${AIRFLOW_EXECUTOR:-LocalExecutor}"
    celery_env = {**filled_env(), "AIRFLOW_EXECUTOR": "CeleryExecutor"}
    assert interpolate(executor, celery_env) == "CeleryExecutor"
    for name in ("airflow-worker", "airflow-worker-extract"):
        worker = compose["services"][name]
        script = _argv(worker["command"])[2]
        assert '"${AIRFLOW__CORE__EXECUTOR}" != "CeleryExecutor"' in script and "exit 1" in script
        assert any(argv[:3] == ["airflow", "celery", "worker"] for argv in service_commands(worker)), name
        assert worker["depends_on"]["redis"]["condition"] == "service_healthy"


# --- data, paths, build ------------------------------------------------------------------------------------

def _mounts(service: dict) -> list[tuple[str, str]]:
    return [tuple(v.split(":")[:2]) for v in service.get("volumes", [])]


def test_data_lives_on_a_named_volume(compose):
    named = set(compose["volumes"])
    demo = yaml.safe_load((ROOT / "config" / "demo.yml").read_text())
    for name in AIRFLOW_SERVICES - WITHOUT_DATA:
        svc = compose["services"][name]
        assert ("opskpi-data", DATA_DIR_IN_CONTAINER) in _mounts(svc), f"{name} must mount the data volume"
        data_dir = PurePosixPath(svc["working_dir"]) / demo["data_dir"]
        assert str(data_dir) == DATA_DIR_IN_CONTAINER, "config/demo.yml's data_dir must land on the volume"
        for source, _ in _mounts(svc):
            assert source in named or source.startswith(("./", "/")), f"{name}: undeclared volume {source}"
    assert ("postgres-db", "/var/lib/postgresql/data") in _mounts(compose["services"]["postgres"])


def test_referenced_paths_exist(compose):
    for name, svc in compose["services"].items():
        if "build" in svc:
            context = svc["build"] if isinstance(svc["build"], str) else svc["build"].get("context", ".")
            assert (ROOT / context / "Dockerfile").is_file(), f"{name}: no Dockerfile in build context {context}"
        for source, _target in _mounts(svc):
            if source.startswith(("./", "/")):
                assert (ROOT / source).exists(), f"{name}: mounted {source} does not exist"
        env = environment(svc)
        if "OPSKPI_CONFIG" in env:
            mounts = {target: source for source, target in _mounts(svc)}
            config = PurePosixPath(env["OPSKPI_CONFIG"])
            host_dir = mounts.get(str(config.parent))
            assert host_dir is not None, f"{name}: {config.parent} is not mounted"
            assert (ROOT / host_dir / config.name).is_file(), f"{name}: {config} does not exist in {host_dir}"


def _dockerfile() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _dockerignored(path: str) -> bool:
    patterns = [p.strip().rstrip("/") for p in DOCKERIGNORE.read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    path = path.rstrip("/")
    return any(fnmatch.fnmatch(path, p) or path.startswith(p + "/") for p in patterns if not p.startswith("!"))


def test_dockerfile_matches_pins_and_copies_existing_paths(compose):
    instructions = _dockerfile()
    froms = [rest for kw, rest in instructions if kw == "FROM"]
    assert len(froms) == 1
    match = re.fullmatch(r"apache/airflow:(?P<airflow>[\d.]+)-python(?P<python>3\.\d+)", froms[0])
    assert match, froms[0]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pinned = [d for d in pyproject["project"]["dependencies"] if re.match(r"apache-airflow\s*==", d)]
    assert pinned == [f"apache-airflow=={match['airflow']}"], pinned
    assert f"apache-airflow=={match['airflow']}\n" in (ROOT / "constraints.txt").read_text()
    assert pyproject["project"]["requires-python"].startswith(f">={match['python']}")
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + match["python"].replace(".", "")

    runs = " ".join(rest for kw, rest in instructions if kw == "RUN")
    assert re.search(r'pip install [^&]*-c constraints\.txt "?\.', runs), "install the project with the constraints"
    env = dict(item.split("=", 1) for kw, rest in instructions if kw == "ENV" for item in shlex.split(rest))
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "False"
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
    dags = env["AIRFLOW__CORE__DAGS_FOLDER"].removeprefix(env["OPSKPI_HOME"] + "/")
    assert (ROOT / dags / "ops_kpi_daily.py").is_file()
    workdir = [rest for kw, rest in instructions if kw == "WORKDIR"][-1]
    assert workdir == env["OPSKPI_HOME"] == compose["services"]["airflow-scheduler"]["working_dir"]

    copied = set()
    for kw, rest in instructions:
        if kw == "COPY":
            args = [a for a in shlex.split(rest) if not a.startswith("--")]
            for source in args[:-1]:
                copied.add(source.rstrip("/"))
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                assert not _dockerignored(source), f"COPY {source}: excluded by .dockerignore"
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages | {"dags", "dbt_project", "config", "pyproject.toml", "constraints.txt"} <= copied


def test_dockerignore_keeps_local_state_and_secrets_out():
    for path in ("data", ".venv", ".env", ".git", "dbt_project/target", "opskpi/__pycache__"):
        assert _dockerignored(path), f"{path} must be in .dockerignore"


# --- commands ------------------------------------------------------------------------------------------

def test_pools_equal_the_cli_pools(compose, tmp_path):
    pool_sets = [argv for argv in airflow_commands(compose)["airflow-init"] if argv[:2] == ["pools", "set"]]
    assert {argv[2]: (int(argv[3]), argv[4]) for argv in pool_sets} == POOLS
    assert len(pool_sets) == len(POOLS)
    parsed = parse_with_airflow(pool_sets, tmp_path)
    for argv, result in zip(pool_sets, parsed, strict=True):
        assert result["ok"], argv
        assert (result["args"]["pool"], int(result["args"]["slots"]), result["args"]["description"]) == \
            (argv[2], POOLS[argv[2]][0], POOLS[argv[2]][1])


def test_airflow_commands_are_real(compose, tmp_path):
    by_service = airflow_commands(compose)
    assert ["db", "migrate"] in by_service["airflow-init"]
    assert by_service["airflow-init"].index(["db", "migrate"]) == 0, "migrate before creating pools"
    for name, command in (("airflow-apiserver", "api-server"), ("airflow-scheduler", "scheduler"),
                          ("airflow-dag-processor", "dag-processor"), ("airflow-triggerer", "triggerer")):
        assert by_service[name][0] == [command], name
    argvs = [argv for cmds in by_service.values() for argv in cmds if argv[0] != "celery"]
    # `airflow users …` exists only under the FAB auth manager the stack runs with
    results = parse_with_airflow(argvs, tmp_path, AIRFLOW__CORE__AUTH_MANAGER=FAB)
    bad = [" ".join(argv) for argv, r in zip(argvs, results, strict=True) if not r["ok"]]
    assert not bad, f"not valid airflow commands: {bad}"


def test_celery_commands_are_real(compose, tmp_path):
    argvs = [argv for cmds in airflow_commands(compose).values() for argv in cmds if argv[0] == "celery"]
    assert argvs == [["celery", "worker", "--queues", "${OPSKPI_WAREHOUSE_QUEUE},default", "--concurrency", "2"],
                     ["celery", "worker", "--queues", "${OPSKPI_EXTRACT_QUEUE}", "--concurrency", "4"]]
    if importlib.util.find_spec("airflow.providers.celery") is None:
        pytest.skip("apache-airflow-providers-celery is not installed here (the apache/airflow image has it)")
    results = parse_with_airflow(argvs, tmp_path, AIRFLOW__CORE__EXECUTOR="CeleryExecutor")
    assert all(r["ok"] for r in results)


# --- profile celery: extract workers without the warehouse ---------------------------------------------------

def run_worker_script(service: dict, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """The worker's own `bash -c` script, with a stand-in `airflow` on PATH that prints the argv it was given."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "airflow").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (fake / "airflow").chmod(0o755)
    argv = _argv(service["command"])
    assert argv[:2] == ["bash", "-c"]
    child_env = {"PATH": f"{fake}:/usr/bin:/bin", **environment(service), **env}
    return subprocess.run(argv, env=child_env, capture_output=True, text=True, timeout=30)


def test_extract_workers_mount_no_warehouse_and_serve_only_the_extract_queue(compose, tmp_path, monkeypatch):
    services = compose["services"]
    extract, warehouse = services["airflow-worker-extract"], services["airflow-worker"]
    # the config and nothing else: no opskpi-data (the warehouse), no named volume at all
    assert _mounts(extract) == [("./config", "/opt/opskpi/config")] and extract["volumes"][0].endswith(":ro")
    assert ("opskpi-data", DATA_DIR_IN_CONTAINER) in _mounts(warehouse)
    env = environment(extract)
    celery = {**env, "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}

    # the queues each worker serves, as its shell expands them in the container
    served = run_worker_script(extract, tmp_path, **{**celery, "OPSKPI_LANDING_URL": "s3://opskpi-landing/landing"})
    assert served.returncode == 0, served.stderr
    assert served.stdout.split() == ["celery", "worker", "--queues", "extract", "--concurrency", "4"]
    served = run_worker_script(warehouse, tmp_path, **celery)
    assert served.returncode == 0, served.stderr
    assert served.stdout.split() == ["celery", "worker", "--queues", "warehouse,default", "--concurrency", "2"]

    # ... are the queues the DAG puts its tasks on: config/demo.yml read with the containers' environment
    from opskpi.config import read_queues

    for name in ("OPSKPI_EXTRACT_QUEUE", "OPSKPI_WAREHOUSE_QUEUE"):
        monkeypatch.setenv(name, env[name])
    queues = read_queues(ROOT / "config" / "demo.yml")
    assert (queues.extract, queues.warehouse) == ("extract", "warehouse")

    # without a volume, batches landed on local disk would never reach the warehouse: it refuses to start
    for landing in ("", "/opt/opskpi/data/landing"):
        refused = run_worker_script(extract, tmp_path, **{**celery, "OPSKPI_LANDING_URL": landing})
        assert refused.returncode == 1 and "OPSKPI_LANDING_URL=s3://" in refused.stderr, landing
        assert refused.stdout == ""
    assert extract["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"


def test_object_store_credentials_come_from_the_environment_only(raw_compose, compose):
    common = environment(raw_compose["x-airflow-common"])
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "OPSKPI_LANDING_URL", "OPSKPI_LANDING_ENDPOINT_URL"):
        assert common[name] == f"${{{name}:-}}", f"pass {name} through, with no value in the file"
        assert env_example().get(name) is None, f".env.example must not set {name}"
    minio = environment(raw_compose["services"]["minio"])
    assert (minio["MINIO_ROOT_USER"], minio["MINIO_ROOT_PASSWORD"]) == ("${AWS_ACCESS_KEY_ID:-}",
                                                                        "${AWS_SECRET_ACCESS_KEY:-}")
    assert ("minio-data", "/data") in _mounts(compose["services"]["minio"])
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert name not in (ROOT / "config" / "demo.yml").read_text()


def test_minio_init_creates_the_bucket_of_the_landing_url(compose, tmp_path):
    init = compose["services"]["minio-init"]
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mc").write_text('#!/bin/sh\necho "mc $*" >> "$MC_CALLS"\n')
    (fake / "mc").chmod(0o755)
    calls = tmp_path / "calls"
    env = {**environment(init), "PATH": f"{fake}:/usr/bin:/bin", "MC_CALLS": str(calls),
           "OPSKPI_LANDING_URL": "s3://team-landing/opskpi/landing", "AWS_ACCESS_KEY_ID": "k",
           "AWS_SECRET_ACCESS_KEY": "s"}
    done = subprocess.run(_argv(init["entrypoint"]), env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines() == ["mc alias set landing http://minio:9000 k s",
                                             "mc mb --ignore-existing landing/team-landing"]


def test_healthchecks(compose):
    services = compose["services"]
    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    api = services["airflow-apiserver"]
    assert api["healthcheck"]["test"] == ["CMD", "curl", "--fail", "http://localhost:8080/api/v2/monitor/health"]
    assert api["ports"] == ["127.0.0.1:8080:8080"]
    scheduler = services["airflow-scheduler"]
    assert environment(scheduler)["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert scheduler["healthcheck"]["test"] == ["CMD", "curl", "--fail", "http://localhost:8974/health"]
    for name, job in (("airflow-dag-processor", "DagProcessorJob"), ("airflow-triggerer", "TriggererJob")):
        assert ["airflow", "jobs", "check", "--job-type", job, "--hostname", "${HOSTNAME}"] in \
            service_commands(services[name])
    for name, svc in services.items():
        assert "healthcheck" in svc or name in ("airflow-init", "minio-init"), f"{name} has no healthcheck"


def _emulator_argv(compose) -> list[str]:
    argv = _argv(compose["services"]["emulator"]["command"])
    assert argv[:3] == ["python", "-m", "emulator"]
    return argv[3:]


def test_emulator_command_uses_real_flags_and_the_demo_clock(compose):
    from opskpi import demo

    args = _emulator_argv(compose)
    done = subprocess.run([sys.executable, "-m", "emulator", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    known = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", done.stdout))
    flags = [a for a in args if a.startswith("--")]
    assert set(flags) <= known, f"unknown emulator flags: {sorted(set(flags) - known)}"
    # The values convert (argparse checks types of flags before --help ends the parse).
    checked = subprocess.run([sys.executable, "-m", "emulator", *args, "--help"], cwd=ROOT, capture_output=True,
                             text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    options = dict(zip(args[::2], args[1::2], strict=True))
    assert options["--host"] == "0.0.0.0"
    assert options["--now"] == demo.DEMO_NOW, "serve the same day as `make demo`"
    assert options["--profile"] == "healthy", "the same organisation as `make demo`"
    emulator_url = environment(compose["services"]["airflow-scheduler"])["OPSKPI_EMULATOR_URL"]
    assert emulator_url == f"http://emulator:{options['--port']}"
    assert compose["services"]["emulator"]["expose"] == [options["--port"]]
    health = compose["services"]["emulator"]["healthcheck"]["test"]
    assert f"127.0.0.1:{options['--port']}/__emulator/health" in health[-1]


def test_emulator_starts_with_the_compose_command_and_answers_its_healthcheck(compose):
    """The compose command, on loopback and a free port, really starts; the healthcheck's URL answers."""
    options = dict(zip(_emulator_argv(compose)[::2], _emulator_argv(compose)[1::2], strict=True))
    port = options["--port"]
    options.update({"--host": "127.0.0.1", "--port": "0"})
    process = subprocess.Popen([sys.executable, "-m", "emulator", *[x for kv in options.items() for x in kv]],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("emulator listening on http://127.0.0.1:"), line
        base = line.removeprefix("emulator listening on ")
        probe = compose["services"]["emulator"]["healthcheck"]["test"][-1]
        url = re.search(r"'(http://[^']+)'", probe)[1].replace(f"http://127.0.0.1:{port}", base)
        with urllib.request.urlopen(url, timeout=10) as response:
            health = json.load(response)
        assert response.status == 200 and health["status"] == "ok"
        assert health["seed"] == int(options["--seed"])
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- UI login: the FAB auth manager ----------------------------------------------------------------------

_RUN_SCRIPT = """
import json, os, sys
from airflow.cli.cli_parser import get_parser
parser = get_parser()
for argv in json.loads(sys.argv[1]):
    args = parser.parse_args([os.path.expandvars(a) for a in argv])
    args.func(args)
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
from werkzeug.security import check_password_hash  # FAB stores werkzeug password hashes
with get_application_builder() as appbuilder:
    sm = appbuilder.sm
    user = sm.find_user(username=os.environ["AIRFLOW_ADMIN_USER"])
    print(json.dumps({"user": user.username, "roles": [r.name for r in user.roles], "email": user.email,
                      "password_ok": check_password_hash(user.password, os.environ["AIRFLOW_ADMIN_PASSWORD"])}))
"""


def test_ui_login_is_fab_with_the_admin_from_the_environment(raw_compose, compose):
    assert "SIMPLE_AUTH_MANAGER" not in COMPOSE.read_text(), "SimpleAuthManager is for development only"
    for name in AIRFLOW_SERVICES:
        assert environment(compose["services"][name])["AIRFLOW__CORE__AUTH_MANAGER"] == FAB, name
    init = environment(raw_compose["services"]["airflow-init"])
    assert init["AIRFLOW_ADMIN_PASSWORD"].startswith("${AIRFLOW_ADMIN_PASSWORD:?"), "required, never defaulted"
    users = [argv for argv in airflow_commands(compose)["airflow-init"] if argv[0] == "users"]
    create = next(argv for argv in users if argv[1] == "create")
    assert create[create.index("--role") + 1] == "Admin"
    assert create[create.index("--username") + 1] == "${AIRFLOW_ADMIN_USER}"
    assert create[create.index("--password") + 1] == "${AIRFLOW_ADMIN_PASSWORD}"
    assert [argv[1] for argv in users] == ["create", "reset-password"], "the .env password wins on every start"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pin = "apache-airflow-providers-fab==3.10.2"
    assert pin in pyproject["project"]["optional-dependencies"]["deploy"] and f"{pin}\n" in (
        ROOT / "constraints.txt").read_text()


@pytest.mark.slow
def test_airflow_init_creates_the_admin_and_applies_a_changed_password(compose, tmp_path):
    """airflow-init's own commands (db migrate, users create, users reset-password), run twice on SQLite with
    the FAB auth manager: the admin exists once, with role Admin and the password of the second run."""
    commands = [argv for argv in airflow_commands(compose)["airflow-init"] if argv[0] in ("db", "users")]
    home = tmp_path / "airflow"
    base = {**{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}, "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__AUTH_MANAGER": FAB,
            "AIRFLOW_ADMIN_USER": "opsadmin", "AIRFLOW_ADMIN_EMAIL": "ops@example.com"}
    for password in ("first-pass-1", "second-pass-2"):
        done = subprocess.run([sys.executable, "-c", _RUN_SCRIPT, json.dumps(commands)],
                              env={**base, "AIRFLOW_ADMIN_PASSWORD": password}, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        assert seen == {"user": "opsadmin", "roles": ["Admin"], "email": "ops@example.com", "password_ok": True}
