"""The report in a real browser: Debian's headless Chromium, driven over the Chrome DevTools Protocol.

Chromium runs with a fresh profile and no network helpers; a small CDP client (the `websockets` package's
sync client) records console messages, exceptions, log entries and every request of the page, reads the
tiles from the rendered DOM and takes screenshots (test-artifacts/report.png, report-phone.png).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import duckdb
import pytest

from opskpi.report import generate_report
from tests.report_fixtures import (
    DORA_ROWS,
    NASTY_SERVICE,
    NASTY_TEAM,
    REPORT_DATE,
    SECURITY_ROWS,
    build_source,
    exhausted_rows,
)

CHROMIUM = os.environ.get("OPSKPI_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"),
]


class DevTools:
    """One page target over CDP: commands wait for their answer; events are kept in order."""

    def __init__(self, ws_url: str):
        from websockets.sync.client import connect

        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(connect(ws_url, max_size=None, open_timeout=20))
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if message.get("id") == msg_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> dict[str, Any]:
        for seen in self.events:
            if seen["method"] == event:
                return seen
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if "method" in message:
                self.events.append(message)
                if message["method"] == event:
                    return message

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def close(self) -> None:
        self._stack.close()


@pytest.fixture
def browser(tmp_path: Path):
    profile = tmp_path / "profile"
    profile.mkdir()
    log = (tmp_path / "chromium.log").open("w")
    process = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", f"--user-data-dir={profile}",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        port_file = profile / "DevToolsActivePort"  # Chromium writes the port it picked here
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not start: " + (tmp_path / "chromium.log").read_text()[-2000:])
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            pages = [t for t in json.loads(response.read()) if t["type"] == "page"]
        tools = DevTools(pages[0]["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.call(f"{domain}.enable")
        yield tools
        tools.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def open_page(tools: DevTools, url: str, width: int, height: int, mobile: bool = False) -> None:
    tools.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)
    tools.events.clear()
    tools.call("Page.navigate", url=url)
    tools.wait_for("Page.loadEventFired")


def screenshot(tools: DevTools, path: Path, width: int, mobile: bool = False) -> None:
    height = int(tools.evaluate("document.documentElement.scrollHeight"))
    tools.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)
    shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def problems(tools: DevTools) -> list[str]:
    found = []
    for event in tools.events:
        method, params = event["method"], event["params"]
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert", "warning"):
            found.append(f"console.{params['type']}: {params['args']}")
        elif method == "Runtime.exceptionThrown":
            found.append(f"exception: {params['exceptionDetails']}")
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            found.append(f"log: {params['entry']}")
        elif method == "Network.loadingFailed":
            found.append(f"request failed: {params}")
    return found


def requested_urls(tools: DevTools) -> list[str]:
    return [e["params"]["request"]["url"] for e in tools.events if e["method"] == "Network.requestWillBeSent"]


TILES_JS = """JSON.stringify(Array.from(document.querySelectorAll('article.tile')).map(t => ({
    kpi: t.dataset.kpi, scope_type: t.dataset.scopeType, scope_id: t.dataset.scopeId, window: t.dataset.window,
    value: t.dataset.value, text: t.querySelector('.value').textContent,
    colour_value: getComputedStyle(t.querySelector('.value')).color,
    detail: t.querySelector('.detail') ? t.querySelector('.detail').textContent : '',
    scope: t.querySelector('.scope').textContent,
    change: t.querySelector('.change').textContent, change_colour: getComputedStyle(t.querySelector('.change')).color,
    status: t.querySelector('.badge').textContent, colour: getComputedStyle(t.querySelector('.badge')).color})))"""
GREEN, AMBER, RED = "rgb(4, 120, 87)", "rgb(146, 64, 14)", "rgb(153, 27, 27)"


def test_report_in_chromium(tmp_path, browser):
    source = build_source(tmp_path / "published.duckdb")
    day_dir = Path(generate_report(source, tmp_path / "report", REPORT_DATE)["dir"])
    url = (day_dir / "index.html").as_uri()
    open_page(browser, url, 1280, 900)

    assert problems(browser) == []
    urls = requested_urls(browser)
    assert urls == [url], "the page requests nothing but itself"
    assert browser.evaluate("document.scripts.length") == 0

    # the tiles show exactly the values of the snapshot table
    tiles = json.loads(browser.evaluate(TILES_JS))
    assert len(tiles) == 6
    with duckdb.connect(str(source), read_only=True) as con:
        for tile in tiles:
            stored = con.execute(
                """select value from marts.kpi_daily_snapshot where snapshot_date = ? and kpi = ? and scope_type = ?
                   and scope_id = ? and "window" = ?""",
                [REPORT_DATE, tile["kpi"], tile["scope_type"], tile["scope_id"], tile["window"]]).fetchone()
            assert stored is not None, tile
            assert float(tile["value"]) == stored[0], tile
    shown = {t["kpi"]: (t["text"], t["window"], t["status"]) for t in tiles}
    assert shown == {
        "availability": ("99.771 %", "30d", "SLO met"),
        "error_budget_remaining": ("12.5 %", "30d", "Budget at risk"),
        "mtta_p50": ("2.5 min", "7d", "No comparison"),
        "mttr_mean": ("1.5 h", "7d", "Better"),
        "mttr_p50": ("60 min", "7d", "Worse"),
        "incidents_open": ("2", "1d", "Steady"),
    }
    colours = {t["kpi"]: t["colour"] for t in tiles}
    assert colours["availability"] == GREEN and colours["error_budget_remaining"] == AMBER
    # the arrow's colour follows the KPI's direction: MTTR down is green, MTTR up is red, availability up is green
    arrows = {t["kpi"]: (t["change"], t["change_colour"]) for t in tiles}
    assert arrows["mttr_mean"] == ("▼ -30 min vs 7 days earlier", GREEN)
    assert arrows["mttr_p50"] == ("▲ +20 min vs 7 days earlier", RED)
    assert arrows["availability"] == ("▲ +0.2 pp vs 7 days earlier", GREEN)

    # names with markup are text, not markup
    row = table_row(browser, "svc-a")
    assert (row["Service"][0], row["Team"][0]) == (NASTY_SERVICE, NASTY_TEAM)
    assert browser.evaluate("document.querySelectorAll('b, img, script').length") == 0
    assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 4

    # on a desktop screen every table fits: nothing to scroll sideways
    for section in ("#services", "#health"):
        box = f"document.querySelector('{section} .table-wrap')"
        assert browser.evaluate(f"{box}.scrollWidth <= {box}.clientWidth"), section
    screenshot(browser, ARTIFACTS / "report.png", 1280)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000

    # a phone: nothing wider than the screen; the services table scrolls inside its own box to its last column
    open_page(browser, url, 390, 844, mobile=True)
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    assert_table_scrolls_to_its_last_column(browser, "#services")
    assert browser.evaluate("getComputedStyle(document.querySelector('.charts')).gridTemplateColumns").count("px") == 1
    screenshot(browser, ARTIFACTS / "report-phone.png", 390, mobile=True)
    assert problems(browser) == []

    # printable: the print stylesheet applies and a PDF comes out
    browser.call("Emulation.setEmulatedMedia", media="print")
    assert browser.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    pdf = base64.b64decode(browser.call("Page.printToPDF", printBackground=True)["data"])
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000


def table_row(tools: DevTools, service: str) -> dict[str, list[str]]:
    """The services table's row of `service`: column heading -> [text, computed colour]."""
    return json.loads(tools.evaluate(f"""JSON.stringify(Object.fromEntries(Array.from(
        document.querySelectorAll('#services tr[data-service="{service}"] td')).map((c, i) => [
        document.querySelectorAll('#services th')[i].textContent, [c.textContent, getComputedStyle(c).color]])))"""))


def assert_table_scrolls_to_its_last_column(tools: DevTools, section: str) -> None:
    box = f"document.querySelector('{section} .table-wrap')"
    width, inner = tools.evaluate(f"[{box}.clientWidth, {box}.scrollWidth]")
    assert 0 < width <= 390 < inner, (width, inner)
    assert tools.evaluate(f"getComputedStyle({box}).overflowX") == "auto"
    last = f"document.querySelector('{section} tbody tr td:last-child')"
    assert tools.evaluate(f"{last}.getBoundingClientRect().left") > 390, "the last column starts off screen"
    first = f"document.querySelector('{section} tbody tr td:first-child')"
    assert tools.evaluate(f"{first}.getBoundingClientRect().left") >= 0
    tools.evaluate(f"{box}.scrollLeft = {box}.scrollWidth")
    right = tools.evaluate(f"{last}.getBoundingClientRect().right")
    assert 0 < right <= 390, f"after scrolling the box, the last column ends on screen ({right})"
    # the name column stays in view while the row scrolls, and a hint says the table scrolls
    assert tools.evaluate(f"{first}.getBoundingClientRect().left") >= 0
    assert tools.evaluate(f"getComputedStyle(document.querySelector('{section} .scroll-hint')).display") == "block"
    tools.evaluate(f"{box}.scrollLeft = 0")


def test_exhausted_budget_quiet_week_and_tiers_in_chromium(tmp_path, browser):
    """The contradictions of issue 20, rebuilt as data: each must read the same way everywhere on the page."""
    source = build_source(tmp_path / "published.duckdb", rows=exhausted_rows(), extra_rows=DORA_ROWS + SECURITY_ROWS)
    day_dir = Path(generate_report(source, tmp_path / "report", REPORT_DATE)["dir"])
    url = (day_dir / "index.html").as_uri()
    open_page(browser, url, 1280, 900)
    assert problems(browser) == []
    tiles = {t["kpi"]: t for t in json.loads(browser.evaluate(TILES_JS))}

    # an overspent budget: "Exhausted" in the alarm colour with the overspend in minutes, never a green arrow
    budget = tiles["error_budget_remaining"]
    assert (budget["text"], budget["colour_value"], budget["detail"], budget["status"], budget["colour"]) == (
        "Exhausted", RED, "overspent by 648 min", "Budget exhausted", RED)
    assert budget["change"] == "▼ overspend -216 min vs 7 days earlier" and budget["change_colour"] != GREEN
    # "SLO met" nowhere while a budget is exhausted: the tile counts svc-b, the table row says missed
    assert (tiles["availability"]["status"], tiles["availability"]["colour"]) == ("SLO missed: 1 of 2 services", RED)
    row = table_row(browser, "svc-b")
    assert row["7 days"][0] == "100 %", "the 7-day column shows the quiet week"
    assert row["Error budget left"] == ["exhausted, 648 min over", RED] and row["30-day status"][0] == "SLO missed"
    assert "SLO met" not in browser.evaluate("document.querySelector('tr[data-service=\"svc-b\"]').textContent")
    # a tier is shown beside the value of its own window: 30 days, not the quiet week's 0.00 /day
    deploys = tiles["deployment_frequency"]
    assert (deploys["text"], deploys["window"], deploys["scope"], deploys["status"]) == (
        "1.20 /day", "30d", "org · 30 days · n=36", "High")
    assert (deploys["change"], deploys["change_colour"]) == ("▲ +0.20 /day vs 7 days earlier", GREEN)
    assert "0.00 /day" not in browser.evaluate("document.querySelector('#area-dora').textContent")
    screenshot(browser, ARTIFACTS / "report-exhausted.png", 1280)

    open_page(browser, url, 390, 844, mobile=True)
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    assert_table_scrolls_to_its_last_column(browser, "#services")
    assert_table_scrolls_to_its_last_column(browser, "#health")
    screenshot(browser, ARTIFACTS / "report-exhausted-phone.png", 390, mobile=True)
    assert problems(browser) == []


def test_the_checks_see_requests_and_errors(tmp_path, browser):
    """The same checks on a page that misbehaves: they must notice (so a clean report really is clean)."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
                    '<script>console.error("boom")</script></body></html>')
    open_page(browser, page.as_uri(), 800, 600)
    time.sleep(0.5)
    browser.evaluate("1")  # drain the events that arrived meanwhile
    assert "http://127.0.0.1:9/x.png" in requested_urls(browser)
    found = problems(browser)
    assert any("console.error" in p and "boom" in p for p in found), found
    assert any("request failed" in p for p in found), found

