"""tests/dashboards runs only through `make test-dashboards` (it needs the Evidence build, which `make test` does not
make): without OPSKPI_DASHBOARDS_TEST=1 the folder is not collected, so `make test` neither runs nor lists it."""

from __future__ import annotations

import os
from pathlib import Path

from tests.browser.test_report_browser import browser  # noqa: F401 (the report test's Chromium, as a fixture here)


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    if os.environ.get("OPSKPI_DASHBOARDS_TEST") != "1" and collection_path.suffix == ".py":
        return True
    return None
