from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.org_runs import ORG_RUNS_MODULES, OrgRuns, run_two_days

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def _org_runs_made(tmp_path_factory: pytest.TempPathFactory) -> OrgRuns:
    return run_two_days(tmp_path_factory.mktemp("org-runs"))


@pytest.fixture
def org_runs(request: pytest.FixtureRequest, _org_runs_made: OrgRuns) -> OrgRuns:
    """The two runs of tests/e2e/org_runs.py, made on first use and read by every test after."""
    module = request.path.resolve().relative_to(ROOT).as_posix()
    assert module in ORG_RUNS_MODULES, f"{module} reads org_runs: list it in ORG_RUNS_MODULES (one xdist worker)"
    return _org_runs_made
