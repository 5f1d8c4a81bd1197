from __future__ import annotations

from pathlib import Path

import pytest

from opskpi.config import parse_config

# After every test, its tmp_path is searched for tokens and their 6-character prefixes (tests/canary.py).
pytest_plugins = ("tests.canary",)


def config_dict(base_url: str = "http://127.0.0.1:1", **overrides) -> dict:
    raw = {
        "data_dir": "data",
        "history_days": 30,
        "reporting": {"timezone": "UTC"},
        "sources": {
            "jira": {"base_url": f"{base_url}/jira", "email": "demo@example.com", "token_env": "TEST_JIRA_TOKEN",
                     "projects": ["OPS"]},
            "pagerduty": {"base_url": f"{base_url}/pagerduty", "token_env": "TEST_PD_TOKEN"},
            "github": {"base_url": f"{base_url}/github", "token_env": "TEST_GH_TOKEN", "repos": ["acme/api"]},
        },
        "services": {},
    }
    raw.update(overrides)
    return raw


@pytest.fixture
def make_config(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TEST_JIRA_TOKEN", "jira-demo-token")
    monkeypatch.setenv("TEST_PD_TOKEN", "pd-demo-token")
    monkeypatch.setenv("TEST_GH_TOKEN", "gh-demo-token")

    def make(base_url: str = "http://127.0.0.1:1", **overrides):
        return parse_config(config_dict(base_url, **overrides), tmp_path)

    return make
