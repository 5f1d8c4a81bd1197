"""The configuration file as pydantic models: parsed strictly, so a typo fails before the first request.

Every section is a model that refuses unknown keys and types it does not expect (a YAML `"8"` is not the
number 8); a bad value fails with a `ConfigError` naming its dotted key (`sources.github.repos[0]`), the
fix, and the file. Adding a key is a typed field with its default, plus a validator when it needs a rule.

Secrets never live in the file: it names the environment variable that holds each token (`token_env`), and
the value is read only when a client is built. String values may reference environment variables as
`${NAME}` or `${NAME:-default}` (used by the demo for the emulator URL).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from extractors.landing_store import StorePath, is_object_store_url, open_root


class ConfigError(ValueError):
    """Names the key that is wrong, what was found and how to fix it."""


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_duration(value: Any, key: str) -> int:
    """'30d', '6h', '15m', '45s' → seconds."""
    match = _DURATION.match(str(value))
    if not match:
        raise ConfigError(f"{key}: {value!r} is not a duration; write e.g. '30d', '6h' or '15m'")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _interpolate(value: Any, key: str) -> Any:
    """`${NAME}` / `${NAME:-default}` in every string of the document, before the models see it."""
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
        return {k: _interpolate(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def read_secret(env_name: str, key: str, what: str = "the API token") -> str:
    """The value of the variable that config key `key` names; a ConfigError naming both when it is unset."""
    value = os.environ.get(env_name)
    if not value:
        raise ConfigError(f"{key}: environment variable {env_name} is empty or not set; export {what} in it")
    return value


# --- field rules: a field is `Annotated[type, _rule(...)]`, its rule and the fix its error names side by side ---


def _rule(ok: Callable[[Any], Any], message: str) -> AfterValidator:
    """Refuse a value for which `ok` is false; `message` may show it as {v} / {v!r}."""
    def check(value: Any) -> Any:
        if not ok(value):
            raise ValueError(message.format(v=value))
        return value

    return AfterValidator(check)


def _url(value: str) -> str:
    parsed = urlparse(value)
    try:
        port_ok = parsed.port is None or 0 < parsed.port
    except ValueError:  # a port that is not a number or above 65535
        port_ok = False
    if (parsed.scheme not in ("http", "https") or not parsed.hostname or not port_ok
            or any(c.isspace() or ord(c) < 32 for c in value) or parsed.query or parsed.fragment):
        raise ValueError(f"{value!r} is not an http(s) URL; write e.g. https://acme.atlassian.net")
    if parsed.username or parsed.password:
        raise ValueError("the URL carries credentials; put the token in the variable named by token_env")
    return value.rstrip("/")


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _positive(example: str) -> AfterValidator:
    return _rule(lambda v: v >= 1, "{v!r} must be a positive whole number, e.g. " + example)


def _page_size(vendor: str) -> AfterValidator:
    return _rule(lambda v: 1 <= v <= 100, "{v} is outside " + vendor + "'s 1..100")


# Hostile input: a name goes into URL paths, JQL and SQL; one the vendor could never have (`../..`,
# `acme/api?x=1`) is a typo or an attack, refused when the config is read rather than sent.
_GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")  # letters, digits, inner single -
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")  # letters, digits, . _ - (but not . or ..)
_JIRA_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{1,254}$")  # an upper-case letter, then upper case, digits, _
_PAGERDUTY_ID = re.compile(r"^[A-Z0-9]{1,32}$")  # upper-case letters and digits, e.g. PKB23Z8
DEFAULT_MAX_BODY_MB = 50


def _is_github_repo(value: str) -> bool:
    owner, _, name = value.partition("/")
    return bool(_GITHUB_OWNER.match(owner) and _GITHUB_REPO.match(name) and name not in (".", ".."))


GitHubRepo = Annotated[str, _rule(_is_github_repo, "{v!r} is not a GitHub repository as owner/name (owner: letters, "
                                  "digits and single inner hyphens, up to 39; name: letters, digits, '.', '_' and "
                                  "'-', up to 100)")]
JiraProjectKey = Annotated[str, _rule(_JIRA_PROJECT_KEY.match, "{v!r} is not a Jira project key (an upper-case "
                                      "letter, then upper-case letters, digits or '_', e.g. OPS)")]
PagerDutyId = Annotated[str, _rule(_PAGERDUTY_ID.match, "{v!r} is not a PagerDuty id (upper-case letters and "
                                   "digits, e.g. PKB23Z8)")]

Duration = Annotated[str, _rule(_DURATION.match, "{v!r} is not a duration; write e.g. '30d', '6h' or '15m'")]
Url = Annotated[str, AfterValidator(_url)]
EnvName = Annotated[str | None, _rule(lambda v: v is None or _ENV_NAME.match(v),
                                      "{v!r} must be the name of an environment variable, not a value")]


class _Section(BaseModel):
    """A mapping in the file: strict types, and every key it does not know refused by name."""

    model_config = ConfigDict(strict=True, extra="forbid", validate_default=True)
    _unknown_word: ClassVar[str] = "key"
    _known_word: ClassVar[str] = "keys"
    _not_in_file: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_keys(cls, data: Any) -> Any:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise PydanticCustomError("mapping", "expected a mapping, found {found}", {"found": type(data).__name__})
        known = sorted({field.alias or name for name, field in cls.model_fields.items()} - cls._not_in_file)
        unknown = sorted(set(data) - set(known), key=str)
        if unknown:
            raise PydanticCustomError("unknown_key", "unknown {word}; known {known_word} are {known}",
                                      {"key": str(unknown[0]), "word": cls._unknown_word,
                                       "known_word": cls._known_word, "known": known})
        return data


class _Transport(_Section):
    """What every source shares: how long to wait for an answer, how many tries and pages to allow."""

    token_env: str
    lookback: Duration
    enabled: bool = True
    # Longest silence tolerated while waiting for an answer (a stalled request is retried).
    read_timeout: Annotated[Duration, _rule(lambda v: parse_duration(v, "read_timeout") >= 1,
                                            "must be at least 1s, e.g. '30s'")] = "60s"
    # Tries per request before the extract fails (429s, 5xx, timeouts and cut bodies are retried).
    max_attempts: Annotated[int, _positive("8")] = 8
    # Pages read per partition in one run before the walk is stopped as a runaway.
    max_pages: Annotated[int, _positive("10000")] = 10_000
    # Most Airflow extract tasks a run maps this source's partitions (repositories, projects) onto. Each task costs
    # seconds of start-up whatever it reads, so beyond this partitions share tasks (read one after another, each with
    # its own watermark): 500 repositories are 16 tasks, not 500.
    extract_tasks: Annotated[int, _positive("16")] = 16
    # Largest body one page may have (megabytes, read streamed: a larger one fails the extract, naming it).
    max_body_mb: Annotated[int | float, _rule(lambda v: v > 0, "{v:g} must be a positive number of "
                                                             "megabytes per page, e.g. 50")] = DEFAULT_MAX_BODY_MB

    def _transport_settings(self) -> dict[str, Any]:
        return {"read_timeout_s": parse_duration(self.read_timeout, "read_timeout"), "max_pages": self.max_pages,
                "max_attempts": self.max_attempts, "max_body_bytes": int(self.max_body_mb * 1024 * 1024)}


class JiraConfig(_Transport):
    base_url: Url = ""
    email: Annotated[str, _rule(bool, "required (the Atlassian account that owns the API token)")] = ""
    token_env: str = "OPSKPI_JIRA_TOKEN"
    projects: Annotated[list[JiraProjectKey],
                        _rule(bool, "list at least one Jira project key, e.g. [OPS]")] = Field(default_factory=list)
    lookback: Duration = "1h"
    page_size: int = 100
    # Re-list every issue id (deleted issues never show up in an `updated` query) when the last
    # reconciliation is at least this old; '0d' = every run.
    reconcile_every: Duration = "7d"

    def settings(self) -> dict[str, Any]:
        return {**self._transport_settings(),
                "base_url": self.base_url, "email": self.email, "projects": self.projects, "page_size": self.page_size,
                "reconcile_every_s": parse_duration(self.reconcile_every, "sources.jira.reconcile_every")}


class PagerDutyConfig(_Transport):
    base_url: Url = "https://api.pagerduty.com"
    token_env: str = "OPSKPI_PAGERDUTY_TOKEN"
    lookback: Duration = "30d"
    page_size: Annotated[int, _page_size("PagerDuty")] = 100

    def settings(self) -> dict[str, Any]:
        return {**self._transport_settings(), "base_url": self.base_url, "page_size": self.page_size}


class GitHubConfig(_Transport):
    base_url: Url = "https://api.github.com"
    token_env: str = "OPSKPI_GITHUB_TOKEN"
    repos: Annotated[list[GitHubRepo],
                     _rule(bool, "list at least one repository as owner/name")] = Field(default_factory=list)
    lookback: Duration = "1d"
    page_size: Annotated[int, _page_size("GitHub")] = 100
    # Deployments (with their statuses) and releases created this recently are re-read every run:
    # statuses arrive after the deployment, drafts are published after they are created.
    deployments_lookback: Duration = "3d"
    # Statuses of older deployments (which no list shows as changed) are read again by id, 100 per GraphQL query:
    # production ones (dora.production_environments) created this recently every run (default: the longest KPI
    # rolling window, 30 days, + the lookback) …
    deployments_recheck_window: Duration = "31d"
    # … and every other loaded deployment within this many days (a rotating 1/N slice a day). So a status added
    # late to any deployment is loaded at most this many days later (plus one run).
    deployments_recheck_sweep: Annotated[int, _positive("7")] = 7
    # Workflow runs created this recently are re-read every run (re-runs change them for ~30 days).
    workflow_runs_lookback: Duration = "30d"
    # Extract only these deployment environments (exact names, one filtered walk each); [] = all.
    deployment_environments: list[Annotated[str, _rule(bool, "an environment name must not be empty, "
                                                             "e.g. production")]] = Field(default_factory=list)
    # A spent hourly quota (REST or GraphQL) is waited for up to this long, on GitHub's clock; longer fails.
    max_quota_wait: Duration = "65m"
    # In Airflow, a quota wait longer than this gives the worker slot back (the extract task is rescheduled for
    # the reset and resumes from its checkpoint), so one repository's wait never holds a slot other sources need.
    release_slot_after: Duration = "5m"
    # Emulated seconds per real second of the server's clock: 1 for GitHub; only an emulator runs faster.
    server_clock_rate: Annotated[int | float, _rule(lambda v: v > 0, "{v!r} must be a positive number")] = 1.0

    def settings(self) -> dict[str, Any]:
        return {**self._transport_settings(),
                "base_url": self.base_url, "repos": self.repos, "page_size": self.page_size,
                "deployments_lookback_s": parse_duration(self.deployments_lookback, "deployments_lookback"),
                "workflow_runs_lookback_s": parse_duration(self.workflow_runs_lookback, "workflow_runs_lookback"),
                "deployments_recheck_window_s": parse_duration(self.deployments_recheck_window,
                                                               "deployments_recheck_window"),
                "deployments_recheck_sweep": self.deployments_recheck_sweep,
                "deployment_environments": list(self.deployment_environments),
                "max_quota_wait_s": parse_duration(self.max_quota_wait, "max_quota_wait"),
                "release_slot_after_s": parse_duration(self.release_slot_after, "release_slot_after"),
                "server_clock_rate": float(self.server_clock_rate)}


SourceConfig = JiraConfig | PagerDutyConfig | GitHubConfig


class SourcesConfig(_Section):
    _unknown_word: ClassVar[str] = "source"
    _known_word: ClassVar[str] = "sources"
    jira: JiraConfig | None = None
    pagerduty: PagerDutyConfig | None = None
    github: GitHubConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_section_is_a_section(cls, data: Any) -> Any:
        """`jira:` with nothing under it is a jira source missing its keys, not no jira source."""
        return {k: {} if v is None else v for k, v in data.items()} if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _at_least_one(self) -> SourcesConfig:
        if not self.by_name():
            raise ValueError("configure at least one of " + ", ".join(type(self).model_fields))
        return self

    def by_name(self) -> dict[str, SourceConfig]:
        return {name: getattr(self, name) for name in type(self).model_fields if getattr(self, name) is not None}


SOURCE_TYPES = {name: f.annotation for name, f in SourcesConfig.model_fields.items()}


def _sources_by_name(value: Any) -> dict[str, SourceConfig]:
    """`sources:` is read through SourcesConfig (one model per source name) and kept as a name → model dict."""
    if isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
        return value
    return SourcesConfig.model_validate(value if value is not None else {}).by_name()


Price = Annotated[float | None, _rule(lambda v: v is None or v >= 0,
                                      "{v:g} must be a price per minute of at least 0, e.g. 120")]


class ServiceConfig(_Section):
    team: str = "unassigned"
    slo_target_pct: Annotated[float | None, _rule(lambda v: v is None or 0 < v < 100,
                                                  "{v:g} must be between 0 and 100, e.g. 99.9")] = None
    # What a minute of this service's downtime costs, and the revenue it puts at risk, in
    # business_impact.currency (null: unpriced, so its cost is unknown, not 0; docs/metrics.md "Downtime cost").
    downtime_cost_per_minute: Price = None
    revenue_per_minute: Price = None


class BusinessImpactConfig(_Section):
    """One currency for every service's prices: costs are summed over services, and a sum of amounts in
    different currencies means nothing, so there is no per-service currency to get wrong."""

    currency: Annotated[str, _rule(re.compile(r"^[A-Z]{3}$").match,
                                   "{v!r} is not an ISO 4217 currency code (three capital letters, e.g. EUR)")] = "USD"


def _is_re2(pattern: str | None) -> bool:
    """The title pattern runs in DuckDB (RE2), whose syntax differs from Python's (no look-around, no
    backreferences), so it is compiled where it will run rather than with `re`."""
    if pattern is None:
        return True
    import duckdb

    try:
        duckdb.sql("select regexp_matches('', $p, 'i')", params={"p": pattern}).fetchall()
    except duckdb.Error:
        return False
    return True


NonEmpty = Annotated[str, _rule(str.strip, "{v!r} must not be blank")]


class SecurityIncidentsConfig(_Section):
    """Rules that make an incident a security incident (docs/metrics.md "Security incidents"); the first one
    that matches is recorded. Every rule empty (the default) turns the area off: no rows, not zeros."""

    service_ids: list[PagerDutyId] = []  # ids, not names: services get renamed
    incident_types: list[NonEmpty] = []  # PagerDuty incident_type.name, case-insensitive
    priorities: list[NonEmpty] = []  # priority name (or a reference's summary), case-insensitive
    title_pattern: Annotated[str | None, _rule(lambda v: v is None or (v.strip() and _is_re2(v)),
                                               "{v!r} is not a regular expression DuckDB's RE2 accepts "
                                               "(no look-around or backreferences), e.g. '(?:security|breach)'")] = None
    jira_issue_types: list[NonEmpty] = []  # Jira issue type names, case-insensitive


_JSON_PATH = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")


class DetectionConfig(_Section):
    """Time to detect (docs/metrics.md "Time to detect"): where an alert carries the monitor's event time, and how
    far after the detection a stamp may lie before it is a wrong clock rather than skew."""

    # Dotted paths into a PagerDuty alert, tried in order; the first value that parses as ISO-8601 with an offset
    # is the impact start (an Alertmanager user might add body.cef_details.details.firing_since).
    impact_start_paths: Annotated[list[Annotated[str, _rule(_JSON_PATH.match, "{v!r} is not a dotted path of field "
                                                            "names, e.g. body.cef_details.creation_time")]],
                                  _rule(bool, "give at least one path, e.g. [body.cef_details.creation_time]")] = [
        "body.cef_details.creation_time"]
    # An impact start later than the detection by at most this is clamped to a delay of 0; later by more, invalid.
    max_clock_skew: Duration = "5m"


class AvailabilityConfig(_Section):
    downtime_urgencies: list[Annotated[str, _rule(lambda v: v in ("high", "low"),
                                                  "{v!r} is not a PagerDuty urgency (high or low)")]] = ["high"]
    downtime_priorities: list[str] = []
    default_slo_target_pct: float = 99.9


class IncidentsConfig(_Section):
    # Jira issue types that count as incidents beside PagerDuty's (empty: PagerDuty only).
    jira_issue_types: list[str] = []


class DoraConfig(_Section):
    production_environments: list[str] = ["production", "prod"]
    attribution_window: Duration = "24h"
    # How long a merged pull request may wait for its deployment and still be counted: the first read of pull
    # requests and deployments reaches this much further back than history_days, so that the first DORA day's
    # lead-time sample has every candidate pull request (issue 18), and the DORA grid starts where that is true.
    max_deploy_lag: Duration = "30d"
    hotfix_labels: list[str] = ["hotfix"]
    # Which base branches a revert or hotfix pull request may be merged into to make a deployment fail: `any` (the
    # KPI contract: a hotfix merged into a release branch counts) or `default` (the default branch only).
    failure_pull_request_branches: Literal["any", "default"] = "any"
    benchmark_year: int = 2023
    # repo -> service ids, tying deployments to the incidents they may have caused.
    repo_services: dict[GitHubRepo, list[PagerDutyId]] = {}
    # repo -> team; repos not listed land in team "unassigned".
    repo_teams: dict[GitHubRepo, str] = {}
    # repo -> workflow (name or file): its successful runs on the default branch are the repo's
    # deployments instead of GitHub deployments.
    deploy_workflows: dict[GitHubRepo, Annotated[str, _rule(bool, "expected a workflow name or file, "
                                                                  "e.g. deploy.yml")]] = {}


SEVERITIES = ("critical", "high", "medium", "low")
DEFAULT_SLA_DAYS = {"critical": 15, "high": 30, "medium": 90, "low": 180}


PATCH_CLOCKS = ("alert_created", "advisory_published")


class SecurityConfig(_Section):
    sla_days: dict[str, int] = DEFAULT_SLA_DAYS
    # When a Dependabot alert's patch deadline (the same sla_days) starts counting: at the alert's creation
    # (FedRAMP, CISA count from detection) or at its advisory's publication (PCI DSS, Cyber Essentials count from
    # the release). docs/metrics.md "Patch compliance".
    patch_clock: Annotated[str, _rule(lambda v: v in PATCH_CLOCKS,
                                      "{v!r} is not a patch clock; use " + " or ".join(PATCH_CLOCKS))] = PATCH_CLOCKS[0]
    # Which day an alert created or closed exactly at a day's end (local midnight, or as_of) counts for: `next_day`
    # (as every end-of-day state: open incidents, Jira WIP) or `this_day` (the KPI contract's `created_at <= end of
    # d`). docs/metrics.md "Security posture".
    day_end: Literal["next_day", "this_day"] = "next_day"

    @field_validator("sla_days")
    @classmethod
    def _severities(cls, value: dict[str, int]) -> dict[str, int]:
        for severity, days in value.items():
            if severity not in SEVERITIES:
                raise PydanticCustomError("unknown_key", "unknown severity; use {known}",
                                          {"key": severity, "known": ", ".join(SEVERITIES)})
            if days < 1:
                raise PydanticCustomError("positive", "{days} must be a positive number of days",
                                          {"key": severity, "days": repr(days)})
        return {**DEFAULT_SLA_DAYS, **value}


class JiraFlowConfig(_Section):
    # Jira project key -> team; projects not listed land in team "unassigned".
    project_teams: dict[JiraProjectKey, str] = {}
    bug_issue_types: list[str] = ["Bug"]


def _rubric_seed() -> Path:
    """The maturity rubric seed of the dbt project the pipeline runs (OPSKPI_DBT_PROJECT, as opskpi.pipeline)."""
    project = os.environ.get("OPSKPI_DBT_PROJECT") or Path(__file__).resolve().parents[1] / "dbt_project"
    return Path(project) / "seeds" / "maturity_rubric.csv"


def rubric_criteria(version: str) -> dict[str, str]:
    """criterion_id -> kind (measured / attested) of one rubric version of seed maturity_rubric.csv; {} when the
    version has no rows. Read here so that a misspelt version or an attestation of a measured criterion fails when
    the config is read, naming the key, instead of deep inside the dbt build."""
    import csv

    with _rubric_seed().open(newline="") as handle:
        return {row["criterion_id"]: row["kind"] for row in csv.DictReader(handle) if row["rubric_version"] == version}


def _aware(value: Any) -> Any:
    """An ISO-8601 string (YAML may also give a datetime already) -> datetime; the offset is required."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO-8601 timestamp; write e.g. 2026-03-01T00:00:00Z") from None
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(f"{value.isoformat()!r} has no UTC offset; write e.g. 2026-03-01T00:00:00Z")
    return value


def _evidence_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an http(s) URL; link the evidence, e.g. https://wiki.acme.io/dr-test-2026")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_aware), Field(strict=False)]


class AttestationConfig(_Section):
    """A person's statement that an attested criterion holds for a scope (docs/metrics.md "Maturity scorecard"):
    what the APIs cannot see, such as a tested DR plan. Valid from attested_at until expires_at (default one year
    later, the SRE milestone of yearly DR tests)."""

    criterion_id: Annotated[str, _rule(lambda v: re.match(r"^[a-z][a-z0-9_]*$", v),
                                       "{v!r} is not a criterion id of the rubric, e.g. dr_tested")]
    scope_type: Literal["org", "team"] = "org"
    scope_id: Annotated[str, _rule(str.strip, "{v!r} must name the team (or be org)")] = "org"
    attested_by: Annotated[str, _rule(str.strip, "{v!r} is blank: say who attested, e.g. jane.doe")]
    attested_at: Timestamp
    expires_at: Timestamp | None = None
    evidence_url: Annotated[str, AfterValidator(_evidence_url)]

    @model_validator(mode="after")
    def _span(self) -> AttestationConfig:
        if self.scope_type == "org" and self.scope_id != "org":
            raise PydanticCustomError("sender", "{value}: an org attestation has scope_id org (or none); for a team "
                                      "write scope_type: team", {"key": "scope_id", "value": repr(self.scope_id)})
        if self.scope_type == "team" and self.scope_id == "org":
            raise PydanticCustomError("sender", "a team attestation names the team in scope_id",
                                      {"key": "scope_id", "value": "org"})
        if self.expires_at is None:
            self.expires_at = self.attested_at + timedelta(days=365)
        elif self.expires_at <= self.attested_at:
            raise PydanticCustomError("sender", "{value} is not after attested_at",
                                      {"key": "expires_at", "value": self.expires_at.isoformat()})
        return self


class MaturityConfig(_Section):
    """The maturity scorecard (docs/metrics.md "Maturity scorecard"): which rubric version of seed
    maturity_rubric.csv is evaluated, and the attestations of its attested criteria."""

    rubric_version: Annotated[str, _rule(lambda v: re.match(r"^[A-Za-z0-9_.-]+$", v),
                                         "{v!r} is not a rubric version name, e.g. v1")] = "v1"
    attestations: list[AttestationConfig] = []

    @model_validator(mode="after")
    def _against_the_rubric(self) -> MaturityConfig:
        criteria = rubric_criteria(self.rubric_version)
        if not criteria:
            raise PydanticCustomError("sender", "{value} has no rows in dbt_project/seeds/maturity_rubric.csv; add "
                                      "the version's rows there or select an existing one, e.g. v1",
                                      {"key": "rubric_version", "value": repr(self.rubric_version)})
        attested = sorted(c for c, kind in criteria.items() if kind == "attested")
        for index, item in enumerate(self.attestations):
            kind = criteria.get(item.criterion_id)
            if kind != "attested":
                why = ("is measured in rubric {version}: a measured criterion cannot be attested"
                       if kind else "is not a criterion of rubric {version}")
                raise PydanticCustomError("sender", "{value} " + why + "; attested criteria are {known}",
                                          {"key": f"attestations[{index}].criterion_id",
                                           "value": repr(item.criterion_id), "version": self.rubric_version,
                                           "known": ", ".join(attested)})
        return self

    def dbt_attestations(self) -> list[dict[str, str]]:
        """The attestations as dbt var maturity_attestations (timestamps in UTC ISO-8601, expiry filled in)."""
        return [{"criterion_id": a.criterion_id, "scope_type": a.scope_type, "scope_id": a.scope_id,
                 "attested_by": a.attested_by,
                 "attested_at": a.attested_at.astimezone(UTC).isoformat(),
                 "expires_at": (a.expires_at or a.attested_at + timedelta(days=365)).astimezone(UTC).isoformat(),
                 "evidence_url": a.evidence_url} for a in self.attestations]
class LeadTimeE2EConfig(_Section):
    """End-to-end lead time (docs/metrics.md "End-to-end lead time"): which done issues are samples, how long after
    an issue is done a linked pull request still belongs to it, and which projects deliver by release."""

    # Resolutions (case-insensitive) whose issues are no delivery: the work was dropped, not shipped.
    excluded_resolutions: list[NonEmpty] = ["Won't Do", "Duplicate", "Cannot Reproduce"]
    # Issue types (case-insensitive) that are containers, delivered through their children.
    excluded_issue_types: list[NonEmpty] = ["Epic"]
    # A pull request merged later than this after the issue's last move to done is a follow-up (`late_links`).
    late_link_grace: Duration = "7d"
    # Projects that ship by release: delivered at the end of the day of the earliest released fixVersion.
    release_projects: list[JiraProjectKey] = []


class TransformConfig(_Section):
    """Bounds of the dbt build's DuckDB. The build is one DuckDB instance shared by dbt's threads, so
    `memory_limit` caps all of them together; above it DuckDB spills to `data_dir/duckdb_tmp`. With the defaults
    the whole transform (dbt's Python process included) peaked at 1.8–2.3 GB per build (runs differ by a few
    hundred MB) at the `large` bench scale on a 2-core machine (bench/results/2026-12-07-dbt-large.json): raise
    them on a bigger host."""

    # DuckDB memory_limit (its own units: "1.5GB", "800MB").
    memory_limit: Annotated[str, _rule(lambda v: re.match(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
                                                          v.strip()),
                                       "{v!r} must be a size such as '1.2GB' or '800MB'")] = "1.2GB"
    # dbt threads: models built at once (each is one DuckDB query at a time). One by default: a query parsing the
    # raw JSON holds ~135 MB per DuckDB thread that cannot spill (GitHub's workflow runs are ~15 kB each), and two
    # such models at once, with 2 DuckDB threads each, ran out of 1.2GB at `large`; dbt's own per-node work holds
    # the GIL, so a second dbt thread bought no time on small builds either (12.9 s against 12.7 s, 2026-12-06).
    threads: Annotated[int, _rule(lambda v: 1 <= v <= 64, "{v!r} must be a whole number from 1 to 64")] = 1
    # DuckDB worker threads per query (null: DuckDB's default, the number of cores).
    duckdb_threads: Annotated[int | None, _rule(lambda v: v is None or 1 <= v <= 256,
                                                "{v!r} must be null or a whole number from 1 to 256")] = 2


_QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# "" is unset too: what `${OPSKPI_EXTRACT_QUEUE:-}` gives when the variable is not set (config/demo.yml).
QueueName = Annotated[str | None, BeforeValidator(lambda v: None if v == "" else v),
                      _rule(lambda v: v is None or _QUEUE.match(v),
                                        "{v!r} must be a Celery queue name (letters, digits, _ . -), or null for "
                                        "Airflow's default queue")]


class QueuesConfig(_Section):
    """Celery queues of the DAG's tasks, for deployments whose workers are not all on the warehouse host.

    `extract` takes what only reads APIs and writes landing batches (partitions, extract, validate): it can run on
    any worker that reaches the APIs and the landing store. `warehouse` takes everything that opens the DuckDB file
    or the data volume (load, dbt build, publish, report): its worker must run on the host that holds them. Unset
    (null) is Airflow's default queue, so a one-host deployment needs no entry. Read when the DAG file is parsed
    (`read_queues`), from the deployment's config (OPSKPI_CONFIG), not per run."""

    extract: QueueName = None
    warehouse: QueueName = None


class WarehouseConfig(_Section):
    """Where dbt builds the marts. `duckdb` (default): the DuckDB file in data_dir. `postgres`: a PostgreSQL
    database, for BI that must read a server; the load step still merges the landing batches into the DuckDB file
    (its watermarks and bookkeeping stay there) and then copies the raw tables to Postgres, dbt builds there, and
    publish reads the marts back from it (opskpi/postgres_warehouse.py). The password is never in this file: libpq
    reads it from the variable `password_env` names (or an Airflow connection the DAG exports into it)."""

    type: Literal["duckdb", "postgres"] = "duckdb"
    host: str | None = None
    port: Annotated[int, _rule(lambda v: 1 <= v <= 65535, "{v!r} must be a TCP port from 1 to 65535")] = 5432
    user: str | None = None
    dbname: str | None = None
    # The target schema of dbt (seeds); the models go to raw/staging/intermediate/marts as on DuckDB.
    schema_name: str = Field(default="main", alias="schema")
    password_env: EnvName = "PGPASSWORD"

    @model_validator(mode="after")
    def _postgres_needs_a_server(self) -> WarehouseConfig:
        if self.type == "postgres":
            for key in ("host", "user", "dbname"):
                if not getattr(self, key):
                    raise PydanticCustomError("postgres", "warehouse.type postgres needs {key}", {"key": key})
        return self

    def postgres_target(self):
        """The Postgres target (opskpi/postgres_warehouse.py), or None for DuckDB."""
        if self.type != "postgres":
            return None
        from opskpi.postgres_warehouse import PostgresTarget

        return PostgresTarget(host=self.host, port=self.port, user=self.user, dbname=self.dbname,
                              schema=self.schema_name, password_env=self.password_env or "PGPASSWORD")


class ReportingConfig(_Section):
    timezone: Annotated[str, _rule(_is_zone, "{v!r} is not an IANA time zone, e.g. Europe/Berlin")] = "UTC"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CalendarConfig(_Section):
    """The calendar BI tools slice by (the `dim_date` mart): where the fiscal year starts and which weekdays are
    business days. Public holidays differ by country and are not modelled."""

    # 1 = January (fiscal year = calendar year); e.g. 4: the fiscal year 2027 runs from April 2026 to March 2027,
    # named after the calendar year it ends in.
    fiscal_year_start_month: Annotated[int, _rule(lambda v: 1 <= v <= 12,
                                                  "{v!r} must be a month number from 1 to 12")] = 1
    business_days: Annotated[list[str], _rule(lambda v: bool(v) and set(v) <= set(WEEKDAYS),
                                              "{v!r} must be a list of weekdays out of mon, tue, wed, thu, fri, "
                                              "sat, sun")] = ["mon", "tue", "wed", "thu", "fri"]


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _store_url(value: str | None) -> str | None:
    """A local directory, or `s3://bucket/prefix` (any S3-compatible store: AWS, MinIO, GCS's S3 API)."""
    if value is None or not is_object_store_url(value) and "://" not in value:
        return value
    parsed = urlparse(value)
    if parsed.scheme != "s3":
        raise ValueError(f"{value!r}: write a local directory or s3://bucket/prefix (any S3-compatible store; "
                         "set landing.endpoint_url for one that is not AWS)")
    if "@" in parsed.netloc:
        raise ValueError("the URL carries credentials; export AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or name an "
                         "Airflow connection in landing.airflow_conn_id")
    if not _BUCKET.match(parsed.netloc) or parsed.query or parsed.fragment or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not s3://bucket/prefix (a bucket name is 3-63 lower-case letters, digits, "
                         "'.' and '-')")
    if not parsed.path.strip("/"):
        raise ValueError(f"{value!r}: give a prefix under the bucket, e.g. s3://{parsed.netloc}/opskpi/landing "
                         "(the quarantine goes beside it, under .../quarantine)")
    return value.rstrip("/")


def _endpoint(value: str | None) -> str | None:
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query or parsed.fragment:
        raise ValueError(f"{value!r} is not an http(s) URL; write e.g. http://minio.internal:9000")
    if parsed.username or parsed.password:
        raise ValueError("the URL carries credentials; export AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or name an "
                         "Airflow connection in landing.airflow_conn_id")
    return value.rstrip("/")


StoreUrl = Annotated[str | None, AfterValidator(_store_url)]


class LandingConfig(_Section):
    """Where extracts land their batches: `<data_dir>/landing` by default, or `s3://bucket/prefix` on an
    S3-compatible object store, so extract and validate tasks can run on any worker (extractors/landing_store.py).
    Credentials never live here: botocore's variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
    a profile or an instance role, or the Airflow connection named by `airflow_conn_id` (login = access key id,
    password = secret key, extra `aws_session_token`)."""

    url: StoreUrl = None
    # The store's S3 API for one that is not AWS (MinIO, GCS, a test server); unset: AWS.
    endpoint_url: Annotated[str | None, AfterValidator(_endpoint)] = None
    # Where failed batches go; unset: `<data_dir>/quarantine`, or beside an s3:// landing prefix (`.../quarantine`).
    quarantine_url: StoreUrl = None
    airflow_conn_id: Annotated[str | None, _rule(lambda v: v is None or re.match(r"^[A-Za-z0-9_.-]{1,250}$", v),
                                                 "{v!r} is not an Airflow connection id")] = None

    _unset_when_empty = field_validator("url", "endpoint_url", "quarantine_url", mode="before")(
        classmethod(lambda cls, value: _empty_is_unset(value)))

    @field_validator("url", "quarantine_url")
    @classmethod
    def _resolve(cls, value: str | None, info: ValidationInfo) -> str | None:
        base_dir = (info.context or {}).get("base_dir")
        if value is None or is_object_store_url(value) or base_dir is None or Path(value).is_absolute():
            return value
        return str((Path(base_dir) / value).resolve())


def _empty_is_unset(value: object) -> object:
    """An empty string is unset: `${VAR:-}` in the YAML gives '' when the deployment does not set VAR (the demo config
    reads the compose file's OPSKPI_LANDING_URL that way), and '' names no store."""
    return None if isinstance(value, str) and not value.strip() else value


def _s3_only(value: str | None) -> str | None:
    if value is not None and not is_object_store_url(value):
        raise ValueError(f"{value!r} is not s3://bucket/prefix (the local copy is always in <data_dir>/published)")
    return value


class PublishConfig(_Section):
    """Besides `<data_dir>/published` (always written), a mirror of the published Parquet set on an object store
    for BI readers on other hosts (opskpi/publish_store.py). Credentials as for `landing:`."""

    parquet_url: Annotated[StoreUrl, AfterValidator(_s3_only)] = None
    # Unset: landing.endpoint_url.
    endpoint_url: Annotated[str | None, AfterValidator(_endpoint)] = None

    _unset_when_empty = field_validator("parquet_url", "endpoint_url", mode="before")(
        classmethod(lambda cls, value: _empty_is_unset(value)))


class ReportConfig(_Section):
    """The nightly report (opskpi/report) and its optional delivery; secrets only by environment variable name."""

    title: Annotated[str, _rule(str.strip, "give the report a title, e.g. 'Ops KPI report'")] = "Ops KPI report"
    # Slack-compatible incoming webhook: the variable holding its URL (the URL is a secret). Unset = no post.
    slack_webhook_env: EnvName = None
    # E-mail: sent when email_to lists someone.
    email_to: Annotated[list[str], _rule(lambda v: all("@" in a for a in v),
                                         "{v!r} must be a list of e-mail addresses")] = []
    email_from: str = "opskpi@localhost"
    smtp_host: str = "localhost"
    smtp_port: Annotated[int, _rule(lambda v: 0 < v < 65536, "{v!r} is not a TCP port, e.g. 587")] = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password_env: EnvName = None

    @model_validator(mode="after")
    def _sender(self) -> ReportConfig:
        if self.email_to and "@" not in self.email_from:
            raise PydanticCustomError("sender", "{value} is not an e-mail address",
                                      {"key": "email_from", "value": repr(self.email_from)})
        return self


class Config(_Section):
    """The whole file. `path` (where it was read from) is not a key of the file."""

    _unknown_word: ClassVar[str] = "top-level key"
    _not_in_file: ClassVar[frozenset[str]] = frozenset({"path"})
    data_dir: Path = Field(default=Path("data"), strict=False)
    history_days: Annotated[int, _rule(lambda v: v >= 1, "{v!r} must be a positive whole number of days, e.g. 90")] = 90
    reporting: ReportingConfig = Field(default_factory=ReportingConfig)
    calendar: CalendarConfig = Field(default_factory=CalendarConfig)
    sources: Annotated[dict[str, SourceConfig], BeforeValidator(_sources_by_name)] = Field(default_factory=dict)
    services: dict[PagerDutyId, ServiceConfig] = Field(default_factory=dict)
    availability: AvailabilityConfig = Field(default_factory=AvailabilityConfig)
    incidents: IncidentsConfig = Field(default_factory=IncidentsConfig)
    dora: DoraConfig = Field(default_factory=DoraConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    security_incidents: SecurityIncidentsConfig = Field(default_factory=SecurityIncidentsConfig)
    detection: DetectionConfig = Field(default_factory=DetectionConfig)
    business_impact: BusinessImpactConfig = Field(default_factory=BusinessImpactConfig)
    jira_flow: JiraFlowConfig = Field(default_factory=JiraFlowConfig)
    maturity: MaturityConfig = Field(default_factory=MaturityConfig)
    lead_time_e2e: LeadTimeE2EConfig = Field(default_factory=LeadTimeE2EConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    transform: TransformConfig = Field(default_factory=TransformConfig)
    queues: QueuesConfig = Field(default_factory=QueuesConfig)
    warehouse: WarehouseConfig = Field(default_factory=WarehouseConfig)
    landing: LandingConfig = Field(default_factory=LandingConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("data_dir")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        base_dir = (info.context or {}).get("base_dir")
        if not value.is_absolute() and base_dir is not None:
            value = (Path(base_dir) / value).resolve()
        return value

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def landing_dir(self) -> StorePath:
        """The landing root: a Path (`<data_dir>/landing` unless `landing.url` names another directory), or a UPath
        on the object store of an s3:// `landing.url` (extractors/landing_store.py)."""
        return open_root(self.landing.url or self.data_dir / "landing", self.landing.endpoint_url)

    @property
    def duckdb_temp_dir(self) -> Path:
        return self.data_dir / "duckdb_tmp"

    @property
    def quarantine_dir(self) -> StorePath:
        if self.landing.quarantine_url:
            return open_root(self.landing.quarantine_url, self.landing.endpoint_url)
        if self.landing.url and is_object_store_url(self.landing.url):
            return open_root(self.landing.url.rsplit("/", 1)[0] + "/quarantine", self.landing.endpoint_url)
        return self.data_dir / "quarantine"

    @property
    def published_dir(self) -> Path:
        return self.data_dir / "published"

    @property
    def published_mirror(self) -> StorePath | None:
        """The object-store copy of the published Parquet set (`publish.parquet_url`), or None."""
        if not self.publish.parquet_url:
            return None
        return open_root(self.publish.parquet_url, self.publish.endpoint_url or self.landing.endpoint_url)

    @property
    def run_logs_dir(self) -> Path:
        return self.data_dir / "logs" / "runs"

    def source_settings(self, name: str, with_secret: bool = True) -> dict[str, Any]:
        """Settings for `extractors.sources.build_source`; the token is read only when it will be used."""
        source = self.sources[name]
        settings = source.settings()
        if name == "github":  # the deployments a KPI counts: their late statuses are rechecked every night
            settings["production_environments"] = list(self.dora.production_environments)
        if name == "jira":  # the projects whose versions are read: their issues are delivered by release
            settings["release_projects"] = list(self.lead_time_e2e.release_projects)
        if with_secret:
            settings["token"] = read_secret(source.token_env, f"sources.{name}.token_env")
        return settings

    def check_secrets(self) -> None:
        """Fail before any request when a token variable is missing, naming the key to fix."""
        for name in self.enabled_sources():
            read_secret(self.sources[name].token_env, f"sources.{name}.token_env")

    def lookback_seconds(self, name: str) -> int:
        return parse_duration(self.sources[name].lookback, f"sources.{name}.lookback")

    def enabled_sources(self) -> list[str]:
        return [name for name, source in self.sources.items() if source.enabled]


TOP_LEVEL = set(Config.model_fields) - {"path"}


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _first_error(exc: ValidationError) -> str:
    """The first error pydantic found, as '<dotted key>: <what is wrong and the fix>'."""
    err = exc.errors(include_url=False)[0]
    # `[key]` is pydantic's marker for a refused mapping key: the key itself already names the place.
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and (p.startswith("function-") or p == "[key]")))
    ctx = err.get("ctx") or {}
    if "key" in ctx:
        loc = (*loc, ctx["key"])
    if err["type"] == "value_error":
        message = str(ctx.get("error", err["msg"]))
    elif err["type"] in ("missing", "unknown_key", "mapping", "positive", "sender") or not loc:
        message = err["msg"]
    else:  # a type pydantic refused: show what was found
        message = f"{err['input']!r}: {err['msg'][0].lower()}{err['msg'][1:]}"
    return f"{_key(loc) or 'config'}: {message}"


def parse_config(raw: Any, base_dir: Path, path: Path | None = None) -> Config:
    """Validate a parsed YAML document; a relative `data_dir` is resolved against base_dir."""
    where = f" (in {path})" if path is not None else ""
    if not isinstance(raw, dict):
        raise ConfigError("config: the file must be a YAML mapping with keys " + ", ".join(sorted(TOP_LEVEL)) + where)
    try:
        config = Config.model_validate(_interpolate(raw, ""), context={"base_dir": base_dir})
    except ConfigError as exc:
        raise ConfigError(f"{exc}{where}") from None
    except ValidationError as exc:
        raise ConfigError(f"{_first_error(exc)}{where}") from None
    config.path = path
    return config


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


def read_queues(path: str | Path) -> QueuesConfig:
    """Only the `queues:` section of a config file, for the DAG file at parse time.

    The full `load_config` takes most of a second (every section validated), which every parse of the DAG file
    would pay; the queues are all the DAG's shape needs. A missing file gives the default queues: the default
    config path is relative to the working directory, which the DAG processor may not share, and the tasks then
    fail on the config as they always did. An invalid file or section raises ConfigError (a DAG import error
    naming the key), rather than sending the warehouse tasks to a queue that workers without the warehouse serve.
    """
    path = Path(path)
    if not path.exists():
        return QueuesConfig()
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config: {path} is not valid YAML: {exc}") from None
    section = raw.get("queues") if isinstance(raw, dict) else None
    try:
        return QueuesConfig.model_validate(_interpolate(section, "queues"))
    except ValidationError as exc:
        where = _first_error(exc).removeprefix("config")  # the section itself: "config: …"; a key: "extract: …"
        raise ConfigError(f"queues{where if where.startswith(':') else '.' + where} (in {path})") from None
