"""Bad configuration fails before any request, naming the key and the fix."""

from __future__ import annotations

import pytest

from opskpi.config import ConfigError, parse_config
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


def test_transform_bounds_default_and_reach_dbt(tmp_path):
    from opskpi.pipeline import transform_env

    config = parse_config(config_dict(), tmp_path)
    assert (config.transform.memory_limit, config.transform.threads, config.transform.duckdb_threads) == ("1.2GB", 2, 2)
    env = transform_env(config)
    assert env == {"OPSKPI_DBT_THREADS": "2", "OPSKPI_DUCKDB_MEMORY_LIMIT": "1.2GB", "OPSKPI_DUCKDB_THREADS": "2",
                   "OPSKPI_DUCKDB_TEMP_DIRECTORY": str(config.data_dir / "duckdb_tmp")}
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
