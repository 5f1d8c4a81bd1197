from __future__ import annotations

from pathlib import Path

import pytest

from opskpi.config import parse_config
from tests.e2e.org_runs import ORG_RUNS_MODULES

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


# Under pytest-xdist (`make test`: `--dist loadscope`), a module is one unit of work that one worker runs whole, so
# its module-scoped fixtures (a dbt build, an Airflow deployment) are built once; modules that read one shared
# session-scoped result form one unit together (SHARED_UNITS, below). Units are handed out in collection order;
# putting the longest first keeps a long one from starting last on an otherwise idle machine (longest-first is
# close to the best order for two workers). The weights are rough costs.
MODULE_COST = (
    ("e2e", 4),          # whole pipeline runs through Airflow against the emulator
    ("slow", 3),         # crash trials, fault runs, hostile corpora
    ("integration", 2),  # a dbt build per scenario
    ("referee", 1),      # real SDKs paging through the emulator
)
# Modules that read one session-scoped fixture: one worker runs them all, so the fixture is made once.
SHARED_UNITS = {module: "e2e-org-runs" for module in ORG_RUNS_MODULES}


def _module(nodeid: str) -> str:
    return nodeid.split("::")[0]


def _unit(nodeid: str) -> str:
    return SHARED_UNITS.get(_module(nodeid), _module(nodeid))


def _cost(item: pytest.Item) -> int:
    marks = {mark.name for mark in item.iter_markers()}
    parts = _module(item.nodeid).split("/")
    return sum(cost for name, cost in MODULE_COST if name in marks or name in parts[:-1])


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest units first, each module's tests together in their own order (deterministic: xdist needs every
    worker to collect the same order)."""
    cost: dict[str, int] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        unit = _unit(item.nodeid)
        cost[unit] = max(cost.get(unit, 0), _cost(item))
        first.setdefault(unit, index)
    order = {id(item): index for index, item in enumerate(items)}

    items.sort(key=lambda item: (-cost[_unit(item.nodeid)], first[_unit(item.nodeid)], order[id(item)]))


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadscope`, with the modules of one SHARED_UNITS entry as one scope. (`--dist loadgroup` would do
    this with marks, but pytest-xdist 3.8 cannot rename the node ids of pytest 9, so its groups are ignored.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleOrSharedUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    return ModuleOrSharedUnit(config, log)
