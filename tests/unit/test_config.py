"""Bad configuration fails before any request, naming the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from opskpi.config import ConfigError, load_config, parse_config
from tests.conftest import config_dict


def parse(tmp_path, **overrides):
    return parse_config(config_dict(**overrides), tmp_path)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.update(colour="red"), r"colour: unknown top-level key"),
        (lambda c: c["sources"]["jira"].update(projcts=["OPS"]), r"sources\.jira\.projcts: unknown key"),
        (lambda c: c["sources"]["jira"].update(projects=[]), r"sources\.jira\.projects: list at least one"),
        (lambda c: c["sources"]["github"].update(base_url="api.github.com"), r"github\.base_url: .* not an http"),
        (lambda c: c["sources"]["github"].update(base_url="https://u:p@api.github.com"), r"carries credentials"),
        (lambda c: c["sources"]["github"].update(repos=["acme"]), r"sources\.github\.repos\[0\]: 'acme'"),
        (lambda c: c["reporting"].update(timezone="Mars/Olympus"), r"reporting\.timezone: 'Mars/Olympus'"),
        (lambda c: c["sources"]["pagerduty"].update(lookback="a month"), r"sources\.pagerduty\.lookback: .*30d"),
        (lambda c: c.update(sources={"gitlab": {}}), r"sources\.gitlab: unknown source"),
        (lambda c: c.update(history_days=0), r"history_days: 0 must be a positive"),
        (lambda c: c.update(services={"P1": {"slo_target_pct": 100}}), r"services\.P1\.slo_target_pct"),
    ],
)
def test_bad_config_names_the_key(tmp_path, mutate, expected):
    raw = config_dict()
    mutate(raw)
    with pytest.raises(ConfigError, match=expected):
        parse_config(raw, tmp_path)


def test_missing_token_variable_is_reported_with_its_key(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_GH_TOKEN", raising=False)
    monkeypatch.setenv("TEST_JIRA_TOKEN", "x" * 8)
    monkeypatch.setenv("TEST_PD_TOKEN", "x" * 8)
    config = parse(tmp_path)
    with pytest.raises(ConfigError, match=r"sources\.github\.token_env: environment variable TEST_GH_TOKEN"):
        config.check_secrets()


def test_environment_references_are_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("EMU", "http://127.0.0.1:9999")
    raw = config_dict()
    raw["sources"]["jira"]["base_url"] = "${EMU}/jira"
    raw["sources"]["github"]["base_url"] = "${NOT_SET_ANYWHERE:-http://127.0.0.1:1}/github"
    config = parse_config(raw, tmp_path)
    assert config.sources["jira"].base_url == "http://127.0.0.1:9999/jira"
    assert config.sources["github"].base_url == "http://127.0.0.1:1/github"
    raw["sources"]["jira"]["base_url"] = "${NOT_SET_ANYWHERE}/jira"
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE is not set"):
        parse_config(raw, tmp_path)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        # types are not guessed: a quoted number or a yes/no word is refused, naming what was found
        (lambda c: c["sources"]["jira"].update(max_attempts="8"), r"sources\.jira\.max_attempts: '8': input should"),
        (lambda c: c["sources"]["github"].update(enabled="yes"), r"sources\.github\.enabled: 'yes': .*boolean"),
        (lambda c: c.update(history_days=True), r"history_days: True: input should be a valid integer"),
        # unknown keys are refused at every depth
        (lambda c: c.update(services={"P1": {"teem": "x"}}), r"services\.P1\.teem: unknown key; known keys are"),
        (lambda c: c.update(report={"titel": "x"}), r"report\.titel: unknown key"),
        (lambda c: c.update(path="/etc"), r"path: unknown top-level key"),
        (lambda c: c.update(reporting=["UTC"]), r"reporting: expected a mapping, found list"),
        (lambda c: c["sources"].update(jira=None), r"sources\.jira\.base_url: '' is not an http"),
        (lambda c: c.update(sources={}), r"sources: configure at least one of jira, pagerduty, github"),
        (lambda c: c.update(security={"sla_days": {"urgent": 3}}), r"security\.sla_days\.urgent: unknown severity"),
        (lambda c: c.update(security={"sla_days": {"high": 0}}), r"security\.sla_days\.high: 0 must be a positive"),
        (lambda c: c.update(security={"patch_clock": "advisory_release"}),
         r"security\.patch_clock: 'advisory_release' is not a patch clock; use alert_created or advisory_published"),
        (lambda c: c.update(report={"email_to": ["a@b.c"], "email_from": "nobody"}),
         r"report\.email_from: 'nobody' is not an e-mail address"),
        (lambda c: c["sources"]["pagerduty"].update(page_size=500), r"pagerduty\.page_size: 500 is outside"),
    ],
)
def test_types_and_nested_keys_are_checked(tmp_path, mutate, expected):
    raw = config_dict()
    mutate(raw)
    with pytest.raises(ConfigError, match=expected):
        parse_config(raw, tmp_path)


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "mine.yml"
    raw = config_dict()
    raw["sources"]["github"]["repos"] = ["acme/api", "acme"]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"sources.github.repos[1]: 'acme' is not a GitHub repository as owner/name (owner: letters, digits and "
        f"single inner hyphens, up to 39; name: letters, digits, '.', '_' and '-', up to 100) (in {path})")
    path.write_text("sources: [unclosed")
    with pytest.raises(ConfigError, match=f"config: {path} is not valid YAML"):
        load_config(path)


def test_defaults_and_resolved_paths(tmp_path):
    config = parse_config(config_dict(data_dir="rel/data"), tmp_path, tmp_path / "c.yml")
    assert config.data_dir == tmp_path / "rel" / "data"
    assert config.path == tmp_path / "c.yml"
    assert config.enabled_sources() == ["jira", "pagerduty", "github"]
    assert config.lookback_seconds("pagerduty") == 30 * 86400 and config.lookback_seconds("jira") == 3600
    assert config.source_settings("github", with_secret=False)["workflow_runs_lookback_s"] == 30 * 86400
    assert config.security.sla_days == {"critical": 15, "high": 30, "medium": 90, "low": 180}
    partial = parse_config(config_dict(security={"sla_days": {"critical": 7}}), tmp_path)
    assert partial.security.sla_days == {"critical": 7, "high": 30, "medium": 90, "low": 180}
    assert config.security.patch_clock == "alert_created"
    assert parse_config(config_dict(security={"patch_clock": "advisory_published"}),
                        tmp_path).security.patch_clock == "advisory_published"
    assert config.report.title == "Ops KPI report" and config.availability.downtime_urgencies == ["high"]
    assert config.dora.attribution_window == "24h" and config.history_days == 30


def test_demo_config_loads(monkeypatch):
    monkeypatch.setenv("OPSKPI_EMULATOR_URL", "http://127.0.0.1:4321")
    config = load_config(Path(__file__).resolve().parents[2] / "config" / "demo.yml")
    assert config.sources["github"].repos == ["acme/api", "acme/web", "acme/mobile", "acme/infra"]
    assert config.sources["jira"].base_url == "http://127.0.0.1:4321/jira"
    assert config.services["PKB23Z8"].slo_target_pct == 99.95 and config.services["PKB23Z8"].team == "platform"
    assert config.dora.deploy_workflows == {"acme/infra": "Deploy"}
def test_transform_bounds_default_and_reach_dbt(tmp_path):
    from opskpi.pipeline import transform_env

    config = parse_config(config_dict(), tmp_path)
    assert (config.transform.memory_limit, config.transform.threads, config.transform.duckdb_threads) == ("1.2GB", 1, 2)
    env = transform_env(config)
    assert env == {"OPSKPI_DBT_THREADS": "1", "OPSKPI_DUCKDB_MEMORY_LIMIT": "1.2GB", "OPSKPI_DUCKDB_THREADS": "2",
                   "OPSKPI_DUCKDB_TEMP_DIRECTORY": "duckdb_tmp"}  # dbt runs in the data directory
    assert (config.data_dir / "duckdb_tmp").is_dir()
    raw = config_dict()
    raw["transform"] = {"memory_limit": "800MB", "threads": 1, "duckdb_threads": None}
    env = transform_env(parse_config(raw, tmp_path))
    assert env["OPSKPI_DUCKDB_MEMORY_LIMIT"] == "800MB" and env["OPSKPI_DBT_THREADS"] == "1"
    assert "OPSKPI_DUCKDB_THREADS" not in env


@pytest.mark.parametrize(("transform", "key"), [
    ({"memory_limit": "lots"}, "transform.memory_limit"),
    ({"threads": 0}, "transform.threads"),
    ({"duckdb_threads": "2"}, "transform.duckdb_threads"),
    ({"memroy_limit": "1GB"}, "transform.memroy_limit"),
])
def test_bad_transform_bounds_name_the_key(tmp_path, transform, key):
    raw = config_dict()
    raw["transform"] = transform
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_config(raw, tmp_path)
