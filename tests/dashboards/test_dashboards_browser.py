"""The Evidence dashboards (bi/evidence) built against the demo marts, in Debian's headless Chromium.

`make test-dashboards` publishes the demo marts if nothing is published, runs `make dashboards`, then this module
serves data/published/dashboards/ on a loopback port and opens every page in Chromium, driven over the Chrome
DevTools Protocol the way the report's browser test drives it (tests/browser/test_report_browser.py: a fresh profile,
no network helpers, nothing downloaded). For each page it waits (no time limit short of a generous deadline) until the
page's charts and tables are drawn (and the charts' animations have ended, for the screenshots), then checks:

- every chart is an ECharts instance drawn into a canvas, with at least one series and at least one data point;
- every table shows rows;
- the page shows no Evidence error box, the console has no error and no request failed;
- every request went to the loopback server (nothing from the internet: no CDN, no extension download).

Screenshots of the pages go to test-artifacts/dashboards/.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest

from tests.browser.test_report_browser import ARTIFACTS, CHROMIUM, DevTools, requested_urls, screenshot

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "data" / "published" / "dashboards"
PUBLISHED = ROOT / "data" / "published" / "opskpi.duckdb"
DEADLINE_S = float(os.environ.get("OPSKPI_DASHBOARDS_DEADLINE_S", "300"))

# path -> (charts, tables) the page draws; a chart or table added to a page is added here.
PAGES = {
    "/": (2, 1),
    "/availability": (3, 2),
    "/incident-response": (4, 1),
    "/dora": (6, 2),
    "/delivery-flow": (4, 1),
    "/security": (3, 1),
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"),
]

# Evidence's chart components register every ECharts instance under this symbol (component-utilities'
# chartWindowDebug). Reference lines and areas are series too; they are not data.
STATE_JS = """JSON.stringify((() => {
  const registry = window[Symbol.for('__evidence-chart-window-debug__')] || {};
  const charts = Object.values(registry).filter(c => !c.isDisposed() && document.contains(c.getDom()));
  return {
    charts: charts.map(c => {
      const option = c.getOption() || {};
      const series = (option.series || []).filter(s => !String(s.evidenceSeriesType || '').startsWith('reference'));
      const points = series.map(s => (Array.isArray(s.data) ? s.data : []).filter(d => d !== null && d !== undefined
        && !(Array.isArray(d) && d.slice(1).every(v => v === null || v === undefined))).length);
      return {series: series.length, points: points, drawn: c.getDom().querySelectorAll('canvas, svg').length,
              width: c.getWidth(), height: c.getHeight(), animating: !c.getZr().animation.isFinished()};
    }),
    // a DataTable also renders a hidden copy of itself (for copying and printing): count the visible ones
    tables: Array.from(document.querySelectorAll('table')).filter(t => t.getClientRects().length > 0)
      .map(t => t.querySelectorAll('tr:has(> td)').length),
    loading: document.querySelectorAll('[class*="animate-pulse"], .chart-loading').length,
    errors: Array.from(document.querySelectorAll('.error, [class*="error"]'))
      .map(e => e.textContent.trim()).filter(t => t).slice(0, 5),
    text: document.body.innerText,
  };
})())"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test reads the browser's record of requests instead
        pass


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").exists():
        pytest.fail(f"{SITE}/index.html is missing: run `make test-dashboards` (it runs `make dashboards` first)")
    handler = functools.partial(QuietHandler, directory=str(SITE.resolve()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def page_state(tools: DevTools) -> dict:
    return json.loads(tools.evaluate(STATE_JS))


def drawn(state: dict, charts: int, tables: int) -> bool:
    return (len(state["charts"]) >= charts and len(state["tables"]) >= tables and state["loading"] == 0
            and all(c["drawn"] and c["series"] and sum(c["points"]) and not c["animating"] for c in state["charts"])
            and all(rows > 0 for rows in state["tables"]))


def open_and_wait(tools: DevTools, url: str, charts: int, tables: int) -> dict:
    tools.call("Emulation.setDeviceMetricsOverride", width=1280, height=1000, deviceScaleFactor=1, mobile=False)
    tools.events.clear()
    tools.call("Page.navigate", url=url)
    tools.wait_for("Page.loadEventFired", timeout=DEADLINE_S)
    deadline = time.monotonic() + DEADLINE_S
    while True:
        state = page_state(tools)
        if drawn(state, charts, tables) or time.monotonic() > deadline:
            return state
        time.sleep(0.5)


def console_errors(tools: DevTools) -> list[str]:
    found = []
    for event in tools.events:
        method, params = event["method"], event["params"]
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            found.append(f"console.{params['type']}: {params['args']}")
        elif method == "Runtime.exceptionThrown":
            found.append(f"exception: {params['exceptionDetails']}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            found.append(f"log: {params['entry']}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            found.append(f"request failed: {params}")
    return found


@pytest.mark.parametrize(("path", "charts", "tables"), [(p, c, t) for p, (c, t) in PAGES.items()], ids=list(PAGES))
def test_page_draws_its_charts_and_tables(site, browser, path, charts, tables):
    url = site + path
    state = open_and_wait(browser, url, charts, tables)
    summary = {k: v for k, v in state.items() if k != "text"}

    assert len(state["charts"]) == charts, summary
    for chart in state["charts"]:
        assert chart["drawn"], f"a chart without canvas or svg: {summary}"
        assert chart["width"] > 0 and chart["height"] > 0, summary
        assert chart["series"] > 0 and sum(chart["points"]) > 0, f"a chart without data: {summary}"
    assert len(state["tables"]) == tables, summary
    assert all(rows > 0 for rows in state["tables"]), f"an empty table: {summary}"
    for message in ("Error in Query", "Dataset is empty", "No Records", "No Results"):
        assert message not in state["text"], message
    assert console_errors(browser) == []

    requests = requested_urls(browser)
    assert requests, "the page made no request"
    name = path.strip("/") or "index"
    screenshot(browser, ARTIFACTS / "dashboards" / f"{name}.png", 1280)

    server = urlsplit(site).netloc
    outside = [u for u in requests if not u.startswith(("data:", "blob:")) and urlsplit(u).netloc != server]
    assert outside == [], "requests that left the loopback server"


def test_availability_page_lists_every_published_service(site, browser):
    """The site shows the marts it was built from: the latest day's error-budget table names every service."""
    with duckdb.connect(str(PUBLISHED), read_only=True) as con:
        rows = con.execute("select distinct service_name from marts.mart_availability_daily").fetchall()
    services = [r[0] for r in rows]
    assert services
    state = open_and_wait(browser, site + "/availability", *PAGES["/availability"])
    for service in services:
        assert service in state["text"], service


def test_dora_page_shows_the_latest_tiers(site, browser):
    with duckdb.connect(str(PUBLISHED), read_only=True) as con:
        scopes = con.execute("""select scope_id, list(distinct tier) from marts.mart_dora_tier
                                where day = (select max(day) from marts.mart_dora_tier) group by scope_id""").fetchall()
    assert scopes
    state = open_and_wait(browser, site + "/dora", *PAGES["/dora"])
    for scope_id, tiers in scopes:
        assert scope_id in state["text"], scope_id
        for tier in tiers:
            if tier is not None:
                assert tier in state["text"], (scope_id, tier)
