from __future__ import annotations

from pathlib import Path

import pytest

from tests.canary import MIN_PREFIX, _tokens_now, leaks_under
from tests.e2e.org_runs import ORG_RUNS_MODULES, TOKENS, OrgRuns, run_two_days

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def _org_runs_made(tmp_path_factory: pytest.TempPathFactory) -> OrgRuns:
    """Made once per session, outside any test's tmp_path, so the canary check (tests/canary.py) that follows
    each test would never see them: the same scan runs here, over both runs' data directories and logs."""
    root = tmp_path_factory.mktemp("org-runs")
    runs = run_two_days(root)
    hits = leaks_under(root, _tokens_now() | set(TOKENS.values()))
    assert not hits, f"a token (or its first {MIN_PREFIX} characters) was written by the shared runs: {hits[:10]}"
    return runs


@pytest.fixture
def org_runs(request: pytest.FixtureRequest, _org_runs_made: OrgRuns) -> OrgRuns:
    """The two runs of tests/e2e/org_runs.py, made on first use and read by every test after."""
    module = request.path.resolve().relative_to(ROOT).as_posix()
    assert module in ORG_RUNS_MODULES, f"{module} reads org_runs: list it in ORG_RUNS_MODULES (one xdist worker)"
    return _org_runs_made
