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
