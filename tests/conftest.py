from __future__ import annotations

from pathlib import Path

import pytest

from opskpi.config import parse_config


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


# Under pytest-xdist (`make test`: `--dist loadscope`), each module is one unit of work that one worker runs
# whole, so its module-scoped fixtures (a dbt build, an Airflow deployment) are built once. Units are handed out
# in collection order; putting the longest modules first keeps a long one from starting last on an otherwise
# idle machine (longest-first is close to the best order for two workers). The weights are rough costs.
MODULE_COST = (
    ("e2e", 4),          # whole pipeline runs through Airflow against the emulator
    ("slow", 3),         # crash trials, fault runs, hostile corpora
    ("integration", 2),  # a dbt build per scenario
    ("referee", 1),      # real SDKs paging through the emulator
)


def _module_cost(item: pytest.Item) -> int:
    marks = {mark.name for mark in item.iter_markers()}
    parts = item.nodeid.split("/")
    return sum(cost for name, cost in MODULE_COST if name in marks or name in parts[:2])


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest modules first, each module's tests kept together in their own order (deterministic, as
    xdist requires every worker to collect the same order)."""
    cost: dict[str, int] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        module = item.nodeid.split("::")[0]
        cost[module] = max(cost.get(module, 0), _module_cost(item))
        first.setdefault(module, index)
    order = {id(item): index for index, item in enumerate(items)}
    items.sort(key=lambda item: (-cost[item.nodeid.split("::")[0]], first[item.nodeid.split("::")[0]],
                                 order[id(item)]))
