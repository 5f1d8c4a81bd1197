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
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
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


@dataclass
class JiraConfig:
    base_url: str = ""
    email: str = ""
    token_env: str = "OPSKPI_JIRA_TOKEN"
    projects: list[str] = field(default_factory=list)
    lookback: str = "1h"
    page_size: int = 100
    enabled: bool = True

    def validate(self, key: str) -> None:
        self.base_url = _check_url(self.base_url, f"{key}.base_url")
        if not self.email:
            raise ConfigError(f"{key}.email: required (the Atlassian account that owns the API token)")
        if not self.projects or not all(isinstance(p, str) and p for p in self.projects):
            raise ConfigError(f"{key}.projects: list at least one Jira project key, e.g. [OPS]")
        parse_duration(self.lookback, f"{key}.lookback")

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "email": self.email, "projects": self.projects, "page_size": self.page_size}


@dataclass
class PagerDutyConfig:
    base_url: str = "https://api.pagerduty.com"
    token_env: str = "OPSKPI_PAGERDUTY_TOKEN"
    lookback: str = "30d"
    page_size: int = 100
    enabled: bool = True

    def validate(self, key: str) -> None:
        self.base_url = _check_url(self.base_url, f"{key}.base_url")
        parse_duration(self.lookback, f"{key}.lookback")
        if not 1 <= self.page_size <= 100:
            raise ConfigError(f"{key}.page_size: {self.page_size} is outside PagerDuty's 1..100")

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "page_size": self.page_size}


@dataclass
class GitHubConfig:
    base_url: str = "https://api.github.com"
    token_env: str = "OPSKPI_GITHUB_TOKEN"
    repos: list[str] = field(default_factory=list)
    lookback: str = "1d"
    page_size: int = 100
    enabled: bool = True

    def validate(self, key: str) -> None:
        self.base_url = _check_url(self.base_url, f"{key}.base_url")
        if not self.repos:
            raise ConfigError(f"{key}.repos: list at least one repository as owner/name")
        for i, repo in enumerate(self.repos):
            if not isinstance(repo, str) or repo.count("/") != 1 or repo.startswith("/") or repo.endswith("/"):
                raise ConfigError(f"{key}.repos[{i}]: {repo!r} is not of the form owner/name")
        parse_duration(self.lookback, f"{key}.lookback")
        if not 1 <= self.page_size <= 100:
            raise ConfigError(f"{key}.page_size: {self.page_size} is outside GitHub's 1..100")

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "repos": self.repos, "page_size": self.page_size}


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

    def validate(self, key: str) -> None:
        parse_duration(self.attribution_window, f"{key}.attribution_window")
        for repo, services in self.repo_services.items():
            if not isinstance(services, list):
                raise ConfigError(f"{key}.repo_services.{repo}: expected a list of PagerDuty service ids")


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
    path: Path | None = None

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def published_dir(self) -> Path:
        return self.data_dir / "published"

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
             "security", "jira_flow"}


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
