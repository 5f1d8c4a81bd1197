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
from tests.report_fixtures import NASTY_SERVICE, NASTY_TEAM, REPORT_DATE, build_source

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
    status: t.querySelector('.badge').textContent, colour: getComputedStyle(t.querySelector('.badge')).color})))"""


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
    assert len(tiles) == 5
    with duckdb.connect(str(source), read_only=True) as con:
        for tile in tiles:
            stored = con.execute(
                """select value from marts.kpi_daily_snapshot where snapshot_date = ? and kpi = ? and scope_type = ?
                   and scope_id = ? and "window" = ?""",
                [REPORT_DATE, tile["kpi"], tile["scope_type"], tile["scope_id"], tile["window"]]).fetchone()
            assert stored is not None, tile
            assert float(tile["value"]) == stored[0], tile
    shown = {t["kpi"]: (t["text"], t["status"]) for t in tiles}
    assert shown == {
        "availability": ("99.500 %", "SLO missed: 1 of 2 services"),
        "error_budget_remaining": ("12.5 %", "Budget at risk"),
        "mtta_p50": ("2.5 min", "No comparison"),
        "mttr_mean": ("1.5 h", "Better"),
        "incidents_open": ("2", "Steady"),
    }
    colours = {t["kpi"]: t["colour"] for t in tiles}
    assert colours["availability"] == "rgb(153, 27, 27)" and colours["mttr_mean"] == "rgb(4, 120, 87)"

    # names with markup are text, not markup
    cells = "document.querySelectorAll('tr[data-service=\"svc-a\"] td')"
    row = json.loads(browser.evaluate(f"JSON.stringify(Array.from({cells}).map(c => c.textContent))"))
    assert row[:2] == [NASTY_SERVICE, NASTY_TEAM]
    assert browser.evaluate("document.querySelectorAll('b, img, script').length") == 0
    assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 4

    screenshot(browser, ARTIFACTS / "report.png", 1280)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000

    # a phone: nothing wider than the screen (tables scroll inside their own box)
    open_page(browser, url, 390, 844, mobile=True)
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    assert browser.evaluate("getComputedStyle(document.querySelector('.charts')).gridTemplateColumns").count("px") == 1
    screenshot(browser, ARTIFACTS / "report-phone.png", 390, mobile=True)
    assert problems(browser) == []

    # printable: the print stylesheet applies and a PDF comes out
    browser.call("Emulation.setEmulatedMedia", media="print")
    assert browser.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    pdf = base64.b64decode(browser.call("Page.printToPDF", printBackground=True)["data"])
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000


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

