"""The configuration file: parsed strictly, so a typo fails before the first request.

Secrets never live in the file: it names the environment variable that holds each token
(`token_env`), and the value is read only when a client is built. String values may reference
environment variables as `${NAME}` or `${NAME:-default}` (used by the demo for the emulator URL).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml


class ConfigError(ValueError):
    """Names the key that is wrong, what was found and how to fix it."""


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any, key: str) -> int:
    """'30d', '6h', '15m', '45s' → seconds."""
    match = _DURATION.match(str(value))
    if not match:
        raise ConfigError(f"{key}: {value!r} is not a duration; write e.g. '30d', '6h' or '15m'")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _interpolate(value: Any, key: str) -> Any:
    if isinstance(value, str):
        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{key}: environment variable {name} is not set (export it or give ${{{name}:-default}})")

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def _check_url(value: str, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a URL string, found {type(value).__name__}")
    parsed = urlparse(value)
    try:
        port_ok = parsed.port is None or 0 < parsed.port
    except ValueError:  # a port that is not a number or above 65535
        port_ok = False
    if (parsed.scheme not in ("http", "https") or not parsed.hostname or not port_ok
            or any(c.isspace() or ord(c) < 32 for c in value) or parsed.query or parsed.fragment):
        raise ConfigError(f"{key}: {value!r} is not an http(s) URL; write e.g. https://acme.atlassian.net")
    if parsed.username or parsed.password:
        raise ConfigError(f"{key}: the URL carries credentials; put the token in the variable named by token_env")
    return value.rstrip("/")


def _build(cls: type, data: Any, key: str):
    """Fill dataclass `cls` from a mapping, refusing unknown keys and naming the path of any error."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{key}: expected a mapping, found {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}: unknown key; known keys are {sorted(known)}")
    try:
        obj = cls(**data)
    except TypeError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    validate = getattr(obj, "validate", None)
    if validate:
        validate(key)
    return obj


def _secret(env_name: str, key: str) -> str:
    value = os.environ.get(env_name)
    if not value:
        raise ConfigError(f"{key}: environment variable {env_name} is empty or not set; export the API token in it")
    return value


def _check_transport(source: Any, key: str) -> None:
    """The settings every source shares: how long to wait for an answer, how many pages to allow."""
    if parse_duration(source.read_timeout, f"{key}.read_timeout") < 1:
        raise ConfigError(f"{key}.read_timeout: must be at least 1s, e.g. '30s'")
    if not isinstance(source.max_pages, int) or isinstance(source.max_pages, bool) or source.max_pages < 1:
        raise ConfigError(f"{key}.max_pages: {source.max_pages!r} must be a positive whole number, e.g. 10000")
    if not isinstance(source.max_attempts, int) or isinstance(source.max_attempts, bool) or source.max_attempts < 1:
        raise ConfigError(f"{key}.max_attempts: {source.max_attempts!r} must be a positive whole number, e.g. 8")


def _transport_settings(source: Any) -> dict[str, Any]:
    return {"read_timeout_s": parse_duration(source.read_timeout, "read_timeout"), "max_pages": source.max_pages,
            "max_attempts": source.max_attempts}


@dataclass
class JiraConfig:
    base_url: str = ""
    email: str = ""
    token_env: str = "OPSKPI_JIRA_TOKEN"
    projects: list[str] = field(default_factory=list)
    lookback: str = "1h"
    page_size: int = 100
    enabled: bool = True
    # Longest silence tolerated while waiting for an answer (a stalled request is retried).
    read_timeout: str = "60s"
    # Tries per request before the extract fails (429s, 5xx, timeouts and cut bodies are retried).
    max_attempts: int = 8
    # Pages read per partition in one run before the walk is stopped as a runaway.
    max_pages: int = 10_000
    # Re-list every issue id (deleted issues never show up in an `updated` query) when the last
    # reconciliation is at least this old; '0d' = every run.
    reconcile_every: str = "7d"

    def validate(self, key: str) -> None:
        self.base_url = _check_url(self.base_url, f"{key}.base_url")
        _check_transport(self, key)
        if not self.email:
            raise ConfigError(f"{key}.email: required (the Atlassian account that owns the API token)")
        if not self.projects or not all(isinstance(p, str) and p for p in self.projects):
            raise ConfigError(f"{key}.projects: list at least one Jira project key, e.g. [OPS]")
        parse_duration(self.lookback, f"{key}.lookback")
        parse_duration(self.reconcile_every, f"{key}.reconcile_every")

    def settings(self) -> dict[str, Any]:
        return {**_transport_settings(self),
                "base_url": self.base_url, "email": self.email, "projects": self.projects, "page_size": self.page_size,
                "reconcile_every_s": parse_duration(self.reconcile_every, "sources.jira.reconcile_every")}


@dataclass
class PagerDutyConfig:
    base_url: str = "https://api.pagerduty.com"
    token_env: str = "OPSKPI_PAGERDUTY_TOKEN"
    lookback: str = "30d"
    page_size: int = 100
    enabled: bool = True
    # Longest silence tolerated while waiting for an answer (a stalled request is retried).
    read_timeout: str = "60s"
    # Tries per request before the extract fails (429s, 5xx, timeouts and cut bodies are retried).
    max_attempts: int = 8
    # Pages read per partition in one run before the walk is stopped as a runaway.
    max_pages: int = 10_000

    def validate(self, key: str) -> None:
        self.base_url = _check_url(self.base_url, f"{key}.base_url")
        _check_transport(self, key)
        parse_duration(self.lookback, f"{key}.lookback")
        if not 1 <= self.page_size <= 100:
            raise ConfigError(f"{key}.page_size: {self.page_size} is outside PagerDuty's 1..100")

    def settings(self) -> dict[str, Any]:
        return {**_transport_settings(self), "base_url": self.base_url, "page_size": self.page_size}


@dataclass
class GitHubConfig:
    base_url: str = "https://api.github.com"
    token_env: str = "OPSKPI_GITHUB_TOKEN"
    repos: list[str] = field(default_factory=list)
    lookback: str = "1d"
    page_size: int = 100
    enabled: bool = True
    # Longest silence tolerated while waiting for an answer (a stalled request is retried).
    read_timeout: str = "60s"
    # Tries per request before the extract fails (429s, 5xx, timeouts and cut bodies are retried).
    max_attempts: int = 8
    # Pages read per partition in one run before the walk is stopped as a runaway.
    max_pages: int = 10_000
    # Deployments (with their statuses) and releases created this recently are re-read every run:
    # statuses arrive after the deployment, drafts are published after they are created.
    deployments_lookback: str = "3d"
    # Workflow runs created this recently are re-read every run (re-runs change them for ~30 days).
    workflow_runs_lookback: str = "30d"
    # Extract only these deployment environments (exact names, one filtered walk each); [] = all.
    deployment_environments: list[str] = field(default_factory=list)

    def validate(self, key: str) -> None:
        self.base_url = _check_url(self.base_url, f"{key}.base_url")
        _check_transport(self, key)
        if not self.repos:
            raise ConfigError(f"{key}.repos: list at least one repository as owner/name")
        for i, repo in enumerate(self.repos):
            if not isinstance(repo, str) or repo.count("/") != 1 or repo.startswith("/") or repo.endswith("/"):
                raise ConfigError(f"{key}.repos[{i}]: {repo!r} is not of the form owner/name")
        parse_duration(self.lookback, f"{key}.lookback")
        parse_duration(self.deployments_lookback, f"{key}.deployments_lookback")
        parse_duration(self.workflow_runs_lookback, f"{key}.workflow_runs_lookback")
        if not isinstance(self.deployment_environments, list) or not all(
                isinstance(e, str) and e for e in self.deployment_environments):
            raise ConfigError(f"{key}.deployment_environments: a list of environment names, e.g. [production]")
        if not 1 <= self.page_size <= 100:
            raise ConfigError(f"{key}.page_size: {self.page_size} is outside GitHub's 1..100")

    def settings(self) -> dict[str, Any]:
        return {**_transport_settings(self),
                "base_url": self.base_url, "repos": self.repos, "page_size": self.page_size,
                "deployments_lookback_s": parse_duration(self.deployments_lookback, "deployments_lookback"),
                "workflow_runs_lookback_s": parse_duration(self.workflow_runs_lookback, "workflow_runs_lookback"),
                "deployment_environments": list(self.deployment_environments)}


SOURCE_TYPES = {"jira": JiraConfig, "pagerduty": PagerDutyConfig, "github": GitHubConfig}


@dataclass
class ServiceConfig:
    team: str = "unassigned"
    slo_target_pct: float | None = None

    def validate(self, key: str) -> None:
        if self.slo_target_pct is not None and not 0 < float(self.slo_target_pct) < 100:
            raise ConfigError(f"{key}.slo_target_pct: {self.slo_target_pct} must be between 0 and 100, e.g. 99.9")


@dataclass
class AvailabilityConfig:
    downtime_urgencies: list[str] = field(default_factory=lambda: ["high"])
    downtime_priorities: list[str] = field(default_factory=list)
    default_slo_target_pct: float = 99.9

    def validate(self, key: str) -> None:
        bad = [u for u in self.downtime_urgencies if u not in ("high", "low")]
        if bad:
            raise ConfigError(f"{key}.downtime_urgencies: {bad[0]!r} is not a PagerDuty urgency (high or low)")


@dataclass
class IncidentsConfig:
    # Jira issue types that count as incidents beside PagerDuty's (empty: PagerDuty only).
    jira_issue_types: list[str] = field(default_factory=list)


@dataclass
class DoraConfig:
    production_environments: list[str] = field(default_factory=lambda: ["production", "prod"])
    attribution_window: str = "24h"
    hotfix_labels: list[str] = field(default_factory=lambda: ["hotfix"])
    benchmark_year: int = 2023
    # repo -> service ids, tying deployments to the incidents they may have caused.
    repo_services: dict[str, list[str]] = field(default_factory=dict)
    # repo -> team; repos not listed land in team "unassigned".
    repo_teams: dict[str, str] = field(default_factory=dict)
    # repo -> workflow (name or file): its successful runs on the default branch are the repo's
    # deployments instead of GitHub deployments.
    deploy_workflows: dict[str, str] = field(default_factory=dict)

    def validate(self, key: str) -> None:
        parse_duration(self.attribution_window, f"{key}.attribution_window")
        for repo, services in self.repo_services.items():
            if not isinstance(services, list):
                raise ConfigError(f"{key}.repo_services.{repo}: expected a list of PagerDuty service ids")
        for repo, workflow in self.deploy_workflows.items():
            if not isinstance(workflow, str) or not workflow:
                raise ConfigError(f"{key}.deploy_workflows.{repo}: expected a workflow name or file, e.g. deploy.yml")


SEVERITIES = ("critical", "high", "medium", "low")


@dataclass
class SecurityConfig:
    sla_days: dict[str, int] = field(default_factory=lambda: {"critical": 15, "high": 30, "medium": 90, "low": 180})

    def validate(self, key: str) -> None:
        for severity, days in self.sla_days.items():
            if severity not in SEVERITIES:
                raise ConfigError(f"{key}.sla_days.{severity}: unknown severity; use {', '.join(SEVERITIES)}")
            if not isinstance(days, int) or days < 1:
                raise ConfigError(f"{key}.sla_days.{severity}: {days!r} must be a positive number of days")
        self.sla_days = {**{"critical": 15, "high": 30, "medium": 90, "low": 180}, **self.sla_days}


@dataclass
class JiraFlowConfig:
    # Jira project key -> team; projects not listed land in team "unassigned".
    project_teams: dict[str, str] = field(default_factory=dict)
    bug_issue_types: list[str] = field(default_factory=lambda: ["Bug"])


@dataclass
class TransformConfig:
    """Bounds of the dbt build's DuckDB. The build is one DuckDB instance shared by dbt's threads, so
    `memory_limit` caps all of them together; above it DuckDB spills to `data_dir/duckdb_tmp`. The defaults
    keep the whole transform (dbt's Python process included) under 2 GiB at the `large` bench scale on a
    2-core machine: raise them on a bigger host."""

    # DuckDB memory_limit (its own units: "1.5GB", "800MB").
    memory_limit: str = "1.2GB"
    # dbt threads: models built at once (each is one DuckDB query at a time).
    threads: int = 2
    # DuckDB worker threads per query (null: DuckDB's default, the number of cores).
    duckdb_threads: int | None = 2

    def validate(self, key: str) -> None:
        size = r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"
        if not isinstance(self.memory_limit, str) or not re.match(size, self.memory_limit.strip()):
            raise ConfigError(f"{key}.memory_limit: {self.memory_limit!r} must be a size such as '1.2GB' or '800MB'")
        if not isinstance(self.threads, int) or not 1 <= self.threads <= 64:
            raise ConfigError(f"{key}.threads: {self.threads!r} must be a whole number from 1 to 64")
        if self.duckdb_threads is not None and (not isinstance(self.duckdb_threads, int)
                                                or not 1 <= self.duckdb_threads <= 256):
            raise ConfigError(f"{key}.duckdb_threads: {self.duckdb_threads!r} must be null or a whole number "
                              "from 1 to 256")


@dataclass
class ReportingConfig:
    timezone: str = "UTC"

    def validate(self, key: str) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"{key}.timezone: {self.timezone!r} is not an IANA time zone, e.g. Europe/Berlin"
            ) from None


@dataclass
class ReportConfig:
    """The nightly report (opskpi/report) and its optional delivery; secrets only by environment variable name."""

    title: str = "Ops KPI report"
    # Slack-compatible incoming webhook: the variable holding its URL (the URL is a secret). Unset = no post.
    slack_webhook_env: str | None = None
    # E-mail: sent when email_to lists someone.
    email_to: list[str] = field(default_factory=list)
    email_from: str = "opskpi@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password_env: str | None = None

    def validate(self, key: str) -> None:
        if not isinstance(self.title, str) or not self.title.strip():
            raise ConfigError(f"{key}.title: give the report a title, e.g. 'Ops KPI report'")
        if not isinstance(self.email_to, list) or not all(isinstance(a, str) and "@" in a for a in self.email_to):
            raise ConfigError(f"{key}.email_to: {self.email_to!r} must be a list of e-mail addresses")
        if self.email_to and "@" not in str(self.email_from):
            raise ConfigError(f"{key}.email_from: {self.email_from!r} is not an e-mail address")
        if not isinstance(self.smtp_port, int) or not 0 < self.smtp_port < 65536:
            raise ConfigError(f"{key}.smtp_port: {self.smtp_port!r} is not a TCP port, e.g. 587")
        for name in ("slack_webhook_env", "smtp_password_env"):
            value = getattr(self, name)
            if value is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(value)):
                raise ConfigError(f"{key}.{name}: {value!r} must be the name of an environment variable, not a value")


@dataclass
class Config:
    data_dir: Path
    history_days: int
    reporting: ReportingConfig
    sources: dict[str, Any]
    services: dict[str, ServiceConfig]
    availability: AvailabilityConfig
    incidents: IncidentsConfig = field(default_factory=IncidentsConfig)
    dora: DoraConfig = field(default_factory=DoraConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    jira_flow: JiraFlowConfig = field(default_factory=JiraFlowConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    transform: TransformConfig = field(default_factory=TransformConfig)
    path: Path | None = None

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def duckdb_temp_dir(self) -> Path:
        return self.data_dir / "duckdb_tmp"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def published_dir(self) -> Path:
        return self.data_dir / "published"

    @property
    def run_logs_dir(self) -> Path:
        return self.data_dir / "logs" / "runs"

    def source_settings(self, name: str, with_secret: bool = True) -> dict[str, Any]:
        """Settings for `extractors.sources.build_source`; the token is read only when it will be used."""
        source = self.sources[name]
        settings = source.settings()
        if with_secret:
            settings["token"] = _secret(source.token_env, f"sources.{name}.token_env")
        return settings

    def check_secrets(self) -> None:
        """Fail before any request when a token variable is missing, naming the key to fix."""
        for name in self.enabled_sources():
            _secret(self.sources[name].token_env, f"sources.{name}.token_env")

    def lookback_seconds(self, name: str) -> int:
        return parse_duration(self.sources[name].lookback, f"sources.{name}.lookback")

    def enabled_sources(self) -> list[str]:
        return [name for name, source in self.sources.items() if source.enabled]


TOP_LEVEL = {"data_dir", "history_days", "reporting", "sources", "services", "availability", "incidents", "dora",
             "security", "jira_flow", "report", "transform"}


def parse_config(raw: Any, base_dir: Path, path: Path | None = None) -> Config:
    if not isinstance(raw, dict):
        raise ConfigError("config: the file must be a YAML mapping with keys " + ", ".join(sorted(TOP_LEVEL)))
    unknown = sorted(set(raw) - TOP_LEVEL)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown top-level key; known keys are {sorted(TOP_LEVEL)}")
    raw = _interpolate(raw, "config")
    sources_raw = raw.get("sources") or {}
    if not isinstance(sources_raw, dict) or not sources_raw:
        raise ConfigError("sources: configure at least one of " + ", ".join(SOURCE_TYPES))
    sources = {}
    for name, body in sources_raw.items():
        if name not in SOURCE_TYPES:
            raise ConfigError(f"sources.{name}: unknown source; known sources are {sorted(SOURCE_TYPES)}")
        sources[name] = _build(SOURCE_TYPES[name], body, f"sources.{name}")
    services_raw = raw.get("services") or {}
    if not isinstance(services_raw, dict):
        raise ConfigError("services: expected a mapping of service id to {team, slo_target_pct}")
    services = {str(k): _build(ServiceConfig, v, f"services.{k}") for k, v in services_raw.items()}
    history_days = raw.get("history_days", 90)
    if not isinstance(history_days, int) or history_days < 1:
        raise ConfigError(f"history_days: {history_days!r} must be a positive whole number of days, e.g. 90")
    data_dir = Path(raw.get("data_dir", "data"))
    if not data_dir.is_absolute():
        data_dir = (base_dir / data_dir).resolve()
    return Config(
        data_dir=data_dir,
        history_days=history_days,
        reporting=_build(ReportingConfig, raw.get("reporting"), "reporting"),
        sources=sources,
        services=services,
        availability=_build(AvailabilityConfig, raw.get("availability"), "availability"),
        incidents=_build(IncidentsConfig, raw.get("incidents"), "incidents"),
        dora=_build(DoraConfig, raw.get("dora"), "dora"),
        security=_build(SecurityConfig, raw.get("security"), "security"),
        jira_flow=_build(JiraFlowConfig, raw.get("jira_flow"), "jira_flow"),
        report=_build(ReportConfig, raw.get("report"), "report"),
        transform=_build(TransformConfig, raw.get("transform"), "transform"),
        path=path,
    )


def load_config(path: str | Path) -> Config:
    """Relative `data_dir` is resolved against the current directory (where the command is run)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config: {path} does not exist; start from config/demo.yml")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config: {path} is not valid YAML: {exc}") from None
    return parse_config(raw, Path.cwd(), path.resolve())
