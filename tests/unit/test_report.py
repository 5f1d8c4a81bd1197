"""The KPI report: tiles and statuses from the snapshot, escaping, self-containment, files, CLI and delivery."""

from __future__ import annotations

import json
import re
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from opskpi import cli, pipeline
from opskpi.report import ReportDataError, generate_report
from opskpi.report.data import load_report_data
from opskpi.report.deliver import DeliveryError, deliver
from opskpi.report.model import build_tiles, fmt_duration, maturity_views
from opskpi.report.page import render_html
from opskpi.report.summary import render_markdown, report_json
from opskpi.report.svg import Series, bar_chart, line_chart, nice_ticks
from tests.conftest import config_dict
from tests.mail_sink import smtp_server  # noqa: F401 - a fixture
from tests.report_fixtures import (
    BEFORE,
    DORA_ROWS,
    NASTY_CHECK,
    NASTY_SERVICE,
    NASTY_TEAM,
    REPORT_DATE,
    SECURITY_ROWS,
    build_source,
    exhausted_rows,
)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return build_source(tmp_path / "published.duckdb")


def tiles_by_kpi(path: Path, day: date = REPORT_DATE):
    return {t.kpi: t for t in build_tiles(load_report_data(path, day))}


def test_tiles_show_snapshot_values_changes_and_statuses(source):
    tiles = tiles_by_kpi(source)
    avail = tiles["availability"]
    # over 30 days, the window of the SLOs it is judged against
    assert (avail.scope_type, avail.window, avail.value, avail.value_text) == ("org", "30d", 99.77125, "99.771 %")
    assert avail.change == pytest.approx(0.17125) and avail.change_text == "▲ +0.2 pp" and avail.change_tone == "good"
    assert (avail.status.word, avail.status.tone) == ("SLO met", "good")
    budget = tiles["error_budget_remaining"]  # per service only: the worst service, named
    assert (budget.scope_id, budget.value_text, budget.scope_label) == ("svc-b", "12.5 %", "lowest: Web & Mobile")
    assert budget.change_text == "▼ -27.5 pp" and budget.change_tone == "bad"
    assert (budget.status.word, budget.status.tone) == ("Budget at risk", "warn")
    assert (budget.value_tone, budget.detail) == ("neutral", "")
    mttr = tiles["mttr_mean"]
    assert (mttr.value_text, mttr.change_text, mttr.change_tone, mttr.status.word) == ("1.5 h", "▼ -30 min", "good",
                                                                                        "Better")
    mttr_p50 = tiles["mttr_p50"]  # up is bad for a time to resolve
    assert (mttr_p50.value_text, mttr_p50.change_text, mttr_p50.change_tone, mttr_p50.status.word,
            mttr_p50.status.tone) == ("60 min", "▲ +20 min", "bad", "Worse", "warn")
    mtta = tiles["mtta_p50"]
    assert (mtta.value_text, mtta.change, mtta.change_text, mtta.status.word) == ("2.5 min", None, "no comparison",
                                                                                   "No comparison")
    opened = tiles["incidents_open"]
    assert (opened.window, opened.value_text, opened.change_text, opened.status.word) == ("1d", "2", "■ ±0", "Steady")
    # KPIs without rows (DORA, security, Jira flow) and non-tile KPIs get no tile
    assert set(tiles) == {"availability", "error_budget_remaining", "mttr_mean", "mttr_p50", "mtta_p50",
                          "incidents_open"}


def test_a_provisional_window_shows_no_trend_or_verdict(source):
    """Issue 18: a figure whose window reaches before the data's first complete day (sample_complete false) is
    shown as provisional: its value, but no change, trend or verdict; complete rows are unchanged. Files published
    before the column existed (the fixture's table) read as complete."""
    assert tiles_by_kpi(source)["mttr_mean"].status.word == "Better"
    mark_provisional(source, "kpi = 'mttr_mean'")
    tiles = tiles_by_kpi(source)
    mttr = tiles["mttr_mean"]
    assert (mttr.value_text, mttr.change_text, mttr.change_tone, mttr.status.word, mttr.status.tone) == (
        "1.5 h", "no comparison", "neutral", "Provisional", "neutral")
    assert mttr.detail == "provisional: the window starts before the data"
    assert (tiles["mttr_p50"].status.word, tiles["availability"].status.word) == ("Worse", "SLO met")
    assert "provisional: the window starts before the data" in render_markdown(load_report_data(source, REPORT_DATE))


def mark_provisional(source: Path, where: str) -> None:
    """Give the fixture's snapshot its sample_complete column (true), false on the rows `where` selects."""
    import duckdb

    with duckdb.connect(str(source)) as con:
        con.execute("alter table marts.kpi_daily_snapshot add column sample_complete boolean default true")
        con.execute(f"update marts.kpi_daily_snapshot set sample_complete = false where {where}")


def test_a_provisional_dora_window_shows_no_tier(tmp_path):
    """Issue 18: the 30 days of the DORA figures reach before the first DORA day: the deployment frequency tile shows
    its value (1.20 /day) but neither the change from a week earlier (+0.20) nor the tier (High)."""
    source = build_source(tmp_path / "dora.duckdb", extra_rows=DORA_ROWS)
    mark_provisional(source, "\"window\" = '30d' and (kpi = 'deployment_frequency' or kpi like 'dora_tier_%')")
    deploys = tiles_by_kpi(source)["deployment_frequency"]
    assert (deploys.window, deploys.value_text, deploys.change_text, deploys.status.word, deploys.status.tone) == (
        "30d", "1.20 /day", "no comparison", "Provisional", "neutral")
    summary = render_markdown(load_report_data(source, REPORT_DATE))
    line = next(x for x in summary.splitlines() if "1.20 /day" in x)
    assert "Provisional" in line and "High" not in line and "+0.20" not in line, line


def _mttr_chart(source: Path) -> str:
    html = render_html(load_report_data(source, REPORT_DATE))
    return re.search(r"<figcaption>MTTR, rolling 7 days \(org\)</figcaption>(.*?)</figure>", html).group(1)


def test_a_trend_chart_shades_its_provisional_days(source):
    """Issue 18: a trend point whose window reaches before the data is drawn on a shaded band (legend
    "provisional"), not as an ordinary point. The fixture's MTTR has points on day 22 (a week before) and day 29 (the
    report date) of the 30 chart days; only the earlier one is provisional."""
    assert 'class="provisional"' not in _mttr_chart(source)
    mark_provisional(source, f"kpi = 'mttr_mean' and snapshot_date = DATE '{BEFORE}'")
    chart = _mttr_chart(source)
    bands = re.findall(r'<rect class="provisional" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', chart)
    step = (480 - 56 - 12) / 29  # the line chart's plot width over 29 intervals
    day_22 = 56 + step * 22
    assert [(float(x), float(w)) for x, w in bands] == [
        (pytest.approx(day_22 - step / 2, abs=0.1), pytest.approx(step, abs=0.2))]
    assert ">provisional</text>" in chart


def test_bar_chart_bands_cover_whole_slots_of_consecutive_provisional_days():
    chart = bar_chart(Series("n", [1.0, 2.0, 3.0, 4.0]), ["a", "b", "c", "d"], title="t",
                      provisional=[True, True, False, False])
    slot = (480 - 56 - 12) / 4
    bands = re.findall(r'<rect class="provisional" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', chart)
    assert [(float(x), float(w)) for x, w in bands] == [(56.0, pytest.approx(2 * slot, abs=0.1))]
    assert 'class="provisional"' not in bar_chart(Series("n", [1.0, 2.0]), ["a", "b"], title="t")


def test_a_provisional_30_day_availability_gives_no_slo_verdict(source):
    """Issue 18: svc-b's 30 days reach before the data: its row in the services table shows the figures but no
    "SLO met" (svc-a, complete, keeps its verdict)."""
    mark_provisional(source, "scope_id = 'svc-b' and \"window\" = '30d'")
    html = render_html(load_report_data(source, REPORT_DATE))
    row = re.search(r'<tr data-service="svc-b">(.*?)</tr>', html).group(1)
    assert ">provisional<" in row and "SLO met" not in row and "99.562 %" in row, row
    assert "SLO met" in re.search(r'<tr data-service="svc-a">(.*?)</tr>', html).group(1)


def test_an_exhausted_budget_never_reads_as_good(tmp_path):
    """svc-b overspent 3 times its budget (648 min), less than a week earlier (864 min), and was up all week."""
    data = load_report_data(build_source(tmp_path / "x.duckdb", rows=exhausted_rows()), REPORT_DATE)
    tiles = {t.kpi: t for t in build_tiles(data)}
    budget = tiles["error_budget_remaining"]
    assert (budget.value, budget.value_text, budget.value_tone, budget.detail) == (
        -300.0, "Exhausted", "bad", "overspent by 648 min")
    assert (budget.change_text, budget.change_tone) == ("▼ overspend -216 min", "neutral")  # less bad, not good
    assert (budget.status.word, budget.status.tone) == ("Budget exhausted", "bad")
    avail = tiles["availability"]
    assert (avail.window, avail.status.word, avail.status.tone) == ("30d", "SLO missed: 1 of 2 services", "bad")
    html = render_html(data)
    row = re.search(r'<tr data-service="svc-b">(.*?)</tr>', html).group(1)
    assert '<td class="num">100 %</td>' in row, "the 7-day column still shows the quiet week"
    assert "exhausted, 648 min over" in row and "SLO missed" in row and "SLO met" not in row
    assert "30-day status" in html
    assert "**Exhausted**, overspent by 648 min (▼ overspend -216 min vs 7 days earlier)" in render_markdown(data)
    # a budget that is only now overspent says so
    newly = [r for r in exhausted_rows() if not (r[0] == BEFORE and r[1] == "error_budget_remaining")]
    newly.append((BEFORE, "error_budget_remaining", "service", "svc-b", "30d", 5.0, "pct", 30))
    budget = {t.kpi: t for t in build_tiles(load_report_data(build_source(tmp_path / "n.duckdb", rows=newly),
                                                              REPORT_DATE))}["error_budget_remaining"]
    assert (budget.change_text, budget.change_tone) == ("newly exhausted", "bad")


def test_absent_areas_are_hidden_and_appear_with_their_rows(tmp_path, source):
    html = render_html(load_report_data(source, REPORT_DATE))
    assert 'id="area-availability"' in html and 'id="area-incidents"' in html
    assert "area-dora" not in html and "area-security" not in html and "Deployment frequency" not in html
    assert "Open security alerts" not in html
    full = build_source(tmp_path / "full.duckdb", extra_rows=DORA_ROWS + SECURITY_ROWS)
    data = load_report_data(full, REPORT_DATE)
    tiles = {t.kpi: t for t in build_tiles(data)}
    deploys = tiles["deployment_frequency"]  # over 30 days like its tier, not the 7-day 0.00 /day
    assert (deploys.window, deploys.value_text, deploys.change_text, deploys.status.word, deploys.status.tone) == (
        "30d", "1.20 /day", "▲ +0.20 /day", "High", "good")
    assert (tiles["lead_time_p50"].value_text, tiles["lead_time_p50"].status.word) == ("30.0 h", "Medium (worst team)")
    assert (tiles["alerts_open_critical"].status.word, tiles["alerts_open_critical"].status.tone) == (
        "Needs attention", "bad")
    assert tiles["sla_compliance"].status.word == "SLA breached"
    html = render_html(data)
    assert 'id="area-dora"' in html and 'id="area-security"' in html
    assert "Deployment frequency and lead time" in html and "Open security alerts by severity" in html
    assert "Jira flow" not in html


IMPACT_ROWS = [
    # downtime cost (7-day sum, money in the mart's currency): 12,345.6 now, 10,000 a week earlier; 80 % of the
    # downtime priced; security incidents: 3 created in 7 days (1 before), 1 open, MTTR p50 2 h over 2 resolved;
    # patch compliance 75 % of 4 deadlines due
    (REPORT_DATE, "downtime_cost", "org", "org", "7d", 12345.6, "money", 4),
    (BEFORE, "downtime_cost", "org", "org", "7d", 10000.0, "money", 4),
    (REPORT_DATE, "downtime_cost_coverage", "org", "org", "7d", 80.0, "pct", 5),
    (REPORT_DATE, "revenue_at_risk", "org", "org", "1d", 900.0, "money", 2),
    (REPORT_DATE, "security_incidents", "org", "org", "7d", 3.0, "count", 3),
    (BEFORE, "security_incidents", "org", "org", "7d", 1.0, "count", 1),
    (REPORT_DATE, "security_incidents_open", "org", "org", "1d", 1.0, "count", 1),
    (REPORT_DATE, "security_mttr_p50", "org", "org", "7d", 7200.0, "s", 2),
    (REPORT_DATE, "patch_compliance", "org", "org", "30d", 75.0, "pct", 4),
]


def test_cost_beside_availability_and_security_incidents_and_patches_in_security(tmp_path):
    """Issue 21 §5: the cost tile sits in the availability section, in the configured currency's code, with the
    share of the downtime it prices and the number of priced services; security incidents and patch compliance
    sit in the security section, each with its sample size."""
    import duckdb

    path = build_source(tmp_path / "impact.duckdb", extra_rows=IMPACT_ROWS)
    with duckdb.connect(str(path)) as con:
        con.execute("create table marts.mart_downtime_cost_daily as select date '2026-03-10' as day, 'EUR' as currency")
    data = load_report_data(path, REPORT_DATE)
    tiles = {t.kpi: t for t in build_tiles(data)}
    cost = tiles["downtime_cost"]
    assert (cost.area, cost.window, cost.value_text, cost.detail, cost.sample_size) == (
        "availability", "7d", "12,346 EUR", "80.0 % of the downtime priced", 4)
    assert (cost.change_text, cost.change_tone, cost.status.word) == ("▲ +2,346 EUR", "bad", "Worse")
    assert "revenue_at_risk" not in tiles and "downtime_cost_coverage" not in tiles
    incidents, opened = tiles["security_incidents"], tiles["security_incidents_open"]
    assert (incidents.area, incidents.value_text, incidents.sample_size, incidents.status.word) == (
        "security", "3", 3, "Worse")
    assert (opened.value_text, opened.status.word, opened.status.tone) == ("1", "Needs attention", "bad")
    assert (tiles["security_mttr_p50"].value_text, tiles["security_mttr_p50"].sample_size) == ("2.0 h", 2)
    assert (tiles["patch_compliance"].area, tiles["patch_compliance"].sample_size) == ("security", 4)
    html = render_html(data)
    availability = html[html.index('id="area-availability"'):html.index('id="area-incidents"')]
    assert 'data-kpi="downtime_cost"' in availability and "12,346 EUR" in availability
    assert "80.0 % of the downtime priced" in availability and "n=4" in availability
    security = html[html.index('id="area-security"'):]
    assert 'data-kpi="security_incidents"' in security and 'data-kpi="patch_compliance"' in security
    assert "Downtime cost per day (org)" in html
    # without the cost mart (an older published file) the amount shows without a code
    plain = build_source(tmp_path / "plain.duckdb", extra_rows=IMPACT_ROWS)
    assert {t.kpi: t for t in build_tiles(load_report_data(plain, REPORT_DATE))}["downtime_cost"].value_text == (
        "12,346")


def test_source_strings_are_escaped_everywhere(tmp_path, source):
    title = 'Ops & <Leads> "nightly"'
    data = load_report_data(source, REPORT_DATE)
    html = render_html(data, title)
    assert "<script" not in html.lower() and "<img" not in html.lower() and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;pwn&quot;)&lt;/script&gt; &amp; &#x27;Co&#x27;" in html
    assert "Team &quot;Blue&quot; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "expect_column_values_to_not_be_null(&lt;img src=x onerror=alert(1)&gt;)" in html
    assert "<h1>Ops &amp; &lt;Leads&gt; &quot;nightly&quot;</h1>" in html
    assert "Web &amp; Mobile" in html and "Web & Mobile" not in html
    markdown = render_markdown(data, title)
    assert "<" not in markdown.replace("\\<", "")
    # the JSON is data: the names are there verbatim, for consumers that escape for their own medium
    generate_report(source, tmp_path / "report", REPORT_DATE, title)
    payload = json.loads((tmp_path / "report" / "latest" / "kpis.json").read_text())
    assert NASTY_SERVICE in {k["scope_name"] for k in payload["kpis"]}
    assert NASTY_CHECK in {h["failed_checks"] for h in payload["health"]}
    assert NASTY_TEAM  # used by the fixture


def test_html_is_self_contained(source):
    html = render_html(load_report_data(source, REPORT_DATE))
    lowered = html.lower()
    for forbidden in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(", "http://",
                      "https://", "@font-face"):
        assert forbidden not in lowered, forbidden
    tags = re.findall(r"<[a-z][^>]*>", lowered)
    assert tags and not [t for t in tags if re.search(r"\b(src|href|xlink:href|action|on[a-z]+)=", t)]
    assert html.count("<svg") >= 4  # two service charts, MTTA and MTTR trends
    assert "@media print" in html and "@media (max-width: 600px)" in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    # svc-b's dip under its SLO on 03-08 is flagged
    assert html.count('class="below"') == 1


def test_files_latest_and_regenerating_a_past_day(tmp_path, source):
    out = tmp_path / "report"
    first = generate_report(source, out, REPORT_DATE)
    assert sorted(p.name for p in Path(first["dir"]).iterdir()) == ["index.html", "kpis.json", "summary.md"]
    assert (out / "latest").resolve() == (out / "2026-03-10").resolve()
    # an earlier day regenerated from the snapshot: its own directory, latest stays on the newest day
    older = generate_report(source, out, date(2026, 3, 3))
    assert Path(older["dir"]).name == "2026-03-03"
    assert (out / "latest").resolve() == (out / "2026-03-10").resolve()
    payload = json.loads((out / "2026-03-03" / "kpis.json").read_text())
    assert payload["report_date"] == "2026-03-03" and payload["run_id"] == "run-35"
    # rewriting a day replaces it whole; nothing temporary is left behind
    generate_report(source, out, REPORT_DATE)
    assert sorted(p.name for p in out.iterdir()) == ["2026-03-03", "2026-03-10", "latest"]
    summary = (out / "latest" / "summary.md").read_text()
    assert "Availability, org, 30 days: **99.771 %** (▲ +0.2 pp vs 7 days earlier) — **SLO met**" in summary
    with pytest.raises(ReportDataError, match="no KPI snapshot for 2026-03-11"):
        generate_report(source, out, date(2026, 3, 11))


def test_cli_report_regenerates_from_the_published_file(tmp_path, source, monkeypatch, capsys):
    raw = config_dict(data_dir=str(tmp_path / "data"), report={"title": "Nightly & <KPIs>"})
    config_path = tmp_path / "opskpi.yml"
    config_path.write_text(json.dumps(raw))
    published = tmp_path / "data" / "published"
    published.mkdir(parents=True)
    source.rename(published / "opskpi.duckdb")
    assert cli.main(["report", "--config", str(config_path), "--date", "2026-03-10"]) == 0
    html = (published / "report" / "2026-03-10" / "index.html").read_text()
    assert "<h1>Nightly &amp; &lt;KPIs&gt;</h1>" in html
    assert "report for 2026-03-10" in capsys.readouterr().out
    assert cli.main(["report", "--config", str(config_path), "--date", "2026-01-01"]) == 1
    assert "no KPI snapshot for 2026-01-01" in capsys.readouterr().err


class _Sink(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(body)})
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Sink.received, _Sink.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000/secret-part", _Sink
    server.shutdown()
    server.server_close()


def test_pipeline_report_step_delivers_by_webhook_and_email_once(tmp_path, source, webhook, smtp_server,  # noqa: F811
                                                                monkeypatch, make_config):
    url, sink = webhook
    port, mailbox = smtp_server
    monkeypatch.setenv("TEST_REPORT_WEBHOOK", url)
    config = make_config(data_dir=str(tmp_path / "data"), report={
        "title": "Ops <KPIs>", "slack_webhook_env": "TEST_REPORT_WEBHOOK", "email_to": ["leads@example.com"],
        "email_from": "opskpi@example.com", "smtp_host": "127.0.0.1", "smtp_port": port})
    config.published_dir.mkdir(parents=True)
    source.rename(config.published_dir / "opskpi.duckdb")
    ctx = pipeline.RunContext(run_date=REPORT_DATE, as_of=None, run_id="run-42")
    result = pipeline.report(config, ctx)
    assert result["delivery"] == {"webhook": "delivered", "email": "delivered"}
    assert (config.published_dir / "report" / "latest" / "index.html").exists()
    assert len(sink.received) == 1
    text = sink.received[0]["body"]["text"]
    assert sink.received[0]["type"].startswith("application/json")
    assert text.startswith("*Ops &lt;KPIs&gt;: 2026-03-10*")
    assert "Availability (org, 30 days): *99.771 %* ▲ +0.2 pp — SLO met" in text
    assert "&lt;script&gt;" not in text  # service names are not in the chat text, but escaping would apply
    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert mail["To"] == "leads@example.com" and mail["Subject"] == "Ops <KPIs>: 2026-03-10"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in mail.walk()
             if not p.is_multipart()}
    assert "**99.771 %**" in parts["text/plain"] and "<h1>Ops &lt;KPIs&gt;</h1>" in parts["text/html"]
    # an Airflow retry of the step does not post or mail again for the same run
    again = pipeline.report(config, ctx)
    assert again["delivery"] == {"webhook": "already delivered", "email": "already delivered"}
    assert len(sink.received) == 1 and len(mailbox.messages) == 1


def test_failed_webhook_names_no_secret_and_email_still_goes(tmp_path, source, webhook, smtp_server,  # noqa: F811
                                                            make_config,
                                                            monkeypatch):
    url, sink = webhook
    sink.status = 500
    port, mailbox = smtp_server
    monkeypatch.setenv("TEST_REPORT_WEBHOOK", url)
    config = make_config(data_dir=str(tmp_path / "data"), report={
        "slack_webhook_env": "TEST_REPORT_WEBHOOK", "email_to": ["leads@example.com"], "smtp_host": "127.0.0.1",
        "smtp_port": port})
    day_dir = Path(generate_report(source, tmp_path / "report", REPORT_DATE)["dir"])
    with pytest.raises(DeliveryError) as err:
        deliver(config.report, day_dir, "run-42", "subject", "text")
    assert "HTTP 500" in str(err.value) and "secret-part" not in str(err.value) and "127.0.0.1:" not in str(err.value)
    assert len(mailbox.messages) == 1
    # unset variable: a configuration error naming the key, the other channel unaffected
    monkeypatch.delenv("TEST_REPORT_WEBHOOK")
    with pytest.raises(DeliveryError, match="report.slack_webhook_env: environment variable TEST_REPORT_WEBHOOK"):
        deliver(config.report, day_dir, "run-43", "subject", "text")
    assert len(mailbox.messages) == 2


def test_report_config_is_strict(make_config):
    from opskpi.config import ConfigError

    assert make_config().report.title == "Ops KPI report"
    with pytest.raises(ConfigError, match="report.slack_webhook_env"):
        make_config(report={"slack_webhook_env": "https://hooks.example.com/x"})
    with pytest.raises(ConfigError, match="report.email_to"):
        make_config(report={"email_to": "leads@example.com"})
    with pytest.raises(ConfigError, match="report.colour"):
        make_config(report={"colour": "red"})


def test_svg_helpers():
    assert nice_ticks(0, 100) == [0, 25, 50, 75, 100]
    assert nice_ticks(99.2, 100) == [99.2, 99.4, 99.6, 99.8, 100.0]
    chart = line_chart([Series("a <b>", [1.0, 2.0, None, 3.0, 4.0])], ["d1", "d2", "d3", "d4", "d5"], title="t & u")
    assert chart.count("<polyline") == 2  # the missing day breaks the line
    assert "<title>t &amp; u</title>" in chart and "a &lt;b&gt;" in chart
    assert re.search(r'viewBox="0 0 \d+ \d+"', chart)
    assert [fmt_duration(s) for s in (45, 150, 5400, 200_000)] == ["45 s", "2.5 min", "1.5 h", "2.3 d"]


def test_data_health_panel_per_source(source):
    html = render_html(load_report_data(source, REPORT_DATE))
    rows = dict(re.findall(r'<tr data-source="(\w+)">(.*?)</tr>', html))
    assert set(rows) == {"jira", "pagerduty"}
    assert "2026-03-11 05:58 UTC" in rows["pagerduty"] and '<td class="num">120</td>' in rows["pagerduty"]
    assert "60 min" in rows["pagerduty"] and "badge tone-good" in rows["pagerduty"]
    assert "failed checks" in rows["jira"] and "44.0 h" in rows["jira"]
    summary = render_markdown(load_report_data(source, REPORT_DATE))
    assert "2 sources, 120 rows loaded by this run; largest freshness lag of a source 44.0 h" in summary
    assert "failed checks in jira/issues: 1 batch(es)" in summary


def test_source_freshness_in_the_data_health_section(source):
    """The report date's dbt source freshness per source: the worst table's status, the late tables named."""
    data = load_report_data(source, REPORT_DATE)
    html = render_html(data)
    rows = dict(re.findall(r'<tr data-source="(\w+)">(.*?)</tr>', html))
    assert 'data-freshness="pass"><span class="badge tone-good">pass</span> 2 tables' in rows["pagerduty"]
    assert ('data-freshness="warn"><span class="badge tone-warn">warn</span> issues (warn, 44.0 h old)'
            in rows["jira"]), "the warn of the report date, not the error of a week earlier"
    summary = render_markdown(data)
    assert "- dbt source freshness: jira warn (issues (warn, 44.0 h old)); pagerduty pass" in summary
    assert [f["status"] for f in report_json(data)["freshness"]] == ["warn", "pass", "pass"]


DETECTION_ROWS = [
    # org over 7 days: 12 eligible incidents, 7 with a detection delay (58.3 %); 11 of 12 opened by monitoring
    (REPORT_DATE, "mttd_mean", "org", "org", "7d", 702.857, "s", 7),
    (REPORT_DATE, "mttd_p50", "org", "org", "7d", 600.0, "s", 7),
    (BEFORE, "mttd_p50", "org", "org", "7d", 900.0, "s", 4),
    (REPORT_DATE, "detection_coverage", "org", "org", "7d", 100 * 7 / 12, "pct", 12),
    (REPORT_DATE, "monitoring_detection_share", "org", "org", "7d", 100 * 11 / 12, "pct", 12),
    (REPORT_DATE, "change_detection_p50", "org", "org", "7d", 6000.0, "s", 1),
]


def test_detection_tiles_say_how_much_data_stands_behind_them(tmp_path, source):
    assert "area-detection" not in render_html(load_report_data(source, REPORT_DATE))
    data = load_report_data(build_source(tmp_path / "d.duckdb", extra_rows=DETECTION_ROWS), REPORT_DATE)
    tiles = {t.kpi: t for t in build_tiles(data) if t.area == "detection"}
    assert set(tiles) == {"mttd_mean", "mttd_p50", "detection_coverage", "monitoring_detection_share",
                          "change_detection_p50"}
    assert (tiles["mttd_p50"].value_text, tiles["mttd_p50"].detail, tiles["mttd_p50"].change_text) == (
        "10 min", "7 incidents measured · 58.3 % coverage", "▼ -5.0 min")
    assert tiles["mttd_p50"].change_tone == "good"  # detected faster
    assert tiles["detection_coverage"].detail == "12 eligible incidents"
    assert tiles["monitoring_detection_share"].detail == "12 incidents with a known trigger"
    assert tiles["change_detection_p50"].detail == "1 failed deployments with an incident"
    html = render_html(data)
    assert 'id="area-detection"' in html and "<h2>Detection</h2>" in html
    assert "58.3 % coverage" in html and "n=12" in html
    markdown = render_markdown(data)
    assert "## Detection" in markdown and "7 incidents measured · 58.3 % coverage" in markdown


# The maturity section (issue 22 item 5): two teams and the org on 03-10. payments was level 3 on 03-08 and dropped
# to 2 on 03-09 (its DR attestation expired); its level-3 blockers: dr_tested (expired) and ack_sla (median 2 h
# against <= 30 min over 30 days). web is level 4 (nothing recorded against 5 but postmortems, not attested).
MATURITY_ROWS = [
    *[(date(2026, 3, d), "maturity_level", "team", "payments", "1d", 3.0 if d <= 8 else 2.0, "level", 22)
      for d in range(3, 11)],
    (REPORT_DATE, "maturity_level", "team", "web", "1d", 4.0, "level", 22),
    (REPORT_DATE, "maturity_level", "org", "org", "1d", 1.0, "level", 22),
]
SCORECARD_DDL = """create table marts.mart_maturity_scorecard (
    day DATE, scope_type VARCHAR, scope_id VARCHAR, rubric_version VARCHAR, level INTEGER, criterion_id VARCHAR,
    kind VARCHAR, evidence VARCHAR, evidence_value DOUBLE, comparison VARCHAR, threshold DOUBLE, window_days INTEGER,
    min_sample INTEGER, sample_size BIGINT, status VARCHAR, is_met BOOLEAN, description VARCHAR, attested_by VARCHAR,
    expires_at TIMESTAMPTZ)"""
SCORECARD_ROWS = [
    (REPORT_DATE, "team", "payments", "v1", 2, "incidents_recorded", "measured", "services_mapped", 2.0, ">=", 1.0, 1,
     0, 2, "pass", True, "PagerDuty services mapped", None, None),
    (REPORT_DATE, "team", "payments", "v1", 3, "ack_sla", "measured", "mtta_p50", 7200.0, "<=", 1800.0, 30, 5, 9,
     "fail", False, "Median time to acknowledge", None, None),
    (REPORT_DATE, "team", "payments", "v1", 3, "dr_tested", "attested", "attestation", None, None, None, None, None,
     None, "attestation_expired", False, "DR tested", "ana", "2026-03-09T00:00:00Z"),
    (REPORT_DATE, "team", "payments", "v1", 3, "slo_defined", "measured", "services_slo_explicit_pct", 100.0, "=",
     100.0, 1, 1, 2, "pass", True, "Explicit SLOs", None, None),
    (REPORT_DATE, "team", "payments", "v1", 4, "mttd_coverage", "measured", "detection_coverage", 3.0, ">=", 80.0, 30,
     5, 3, "insufficient_data", False, "Detection coverage", None, None),
    (REPORT_DATE, "team", "web", "v1", 5, "postmortems", "attested", "attestation", None, None, None, None, None, None,
     "attestation_missing", False, "Blameless postmortems", None, None),
    (REPORT_DATE, "team", "web", "v1", 4, "continuous_reporting", "measured", "nightly_runs", 30.0, ">=", 28.0, 30, 0,
     30, "pass", True, "Nightly runs", None, None),
    (REPORT_DATE, "team", "web", "v1", 3, "runbooks", "attested", "attestation", None, None, None, None, None, None,
     "attested", True, "Runbooks", "bo", "2027-01-01T00:00:00Z"),
]


def test_maturity_section_per_team_with_blockers_and_history(tmp_path):
    import duckdb

    path = build_source(tmp_path / "maturity.duckdb", extra_rows=MATURITY_ROWS)
    with duckdb.connect(str(path)) as con:
        con.execute(SCORECARD_DDL)
        con.executemany(f"insert into marts.mart_maturity_scorecard values ({', '.join('?' * 19)})", SCORECARD_ROWS)
        con.executemany("insert into marts.dim_kpi_scopes values ('team', ?, ?, ?)",
                        [("payments", "Payments", "payments"), ("web", "Web", "web")])
    data = load_report_data(path, REPORT_DATE)
    html = render_html(data)
    section = html[html.index('id="area-maturity"'):]
    section = section[:section.index("</section>")]
    # the org first, then teams by name; each with its level as shown that night
    order = [m.group(1) for m in re.finditer(r'<article class="maturity"[^>]*data-scope-id="([^"]+)"', section)]
    assert order == ["org", "payments", "web"]
    payments = section[section.index('data-scope-id="payments"'):section.index('data-scope-id="web"')]
    assert 'data-level="2"' in payments and "level 2 Managed" in payments
    assert "Blocking level 3 Defined" in payments
    # what blocks level 3: the unmet level-3 criteria with evidence and threshold; not the level-4 one, not the met
    blockers = re.findall(r'data-criterion="([^"]+)"', payments)
    assert blockers == ["ack_sla", "dr_tested"]
    assert "2.0 h (n=9)" in payments and "&lt;= 30 min over 30 days" in payments
    assert "attested by ana, expired 2026-03-09" in payments and "attestation expired" in payments
    assert "mttd_coverage" not in payments and "slo_defined" not in payments
    # the history: the level of each of the last 30 days as the snapshot recorded it, as a chart
    assert "Maturity level of Payments, last 30 days" in payments and "<svg" in payments
    view = {v.scope_id: v for v in maturity_views(data)}["payments"]
    assert view.history[-8:] == [3.0] * 6 + [2.0, 2.0] and view.history[0] is None
    web = section[section.index('data-scope-id="web"'):]
    assert "level 4 Quantitatively Managed" in web and re.findall(r'data-criterion="([^"]+)"', web) == ["postmortems"]
    assert "not attested" in web
    assert "Attested, not measured: runbooks." in web and "Attested, not measured" not in payments
    # the markdown and JSON summaries still build with a level KPI
    markdown = render_markdown(data)
    assert ("- Payments: level **2 Managed**, blocking level 3 Defined: ack\\_sla (below threshold: 2.0 h (n=9), "
            "needs \\<= 30 min over 30 days)") in markdown
    assert report_json(data)


def test_rework_rate_sits_beside_change_failure_rate(tmp_path):
    """Issue 22 item 3: the rework rate tile follows the change failure rate tile in the DORA section: 2 of 36
    deployments over 30 days shipped a fix (5.6 %), against 3 a week earlier (3 of 30 = 10 %)."""
    rows = [*DORA_ROWS,
            (REPORT_DATE, "change_failure_rate", "org", "org", "7d", 10.0, "pct", 10),
            (REPORT_DATE, "deployment_rework_rate", "org", "org", "7d", 200 / 36, "pct", 36),
            (BEFORE, "deployment_rework_rate", "org", "org", "7d", 10.0, "pct", 30)]
    data = load_report_data(build_source(tmp_path / "rework.duckdb", extra_rows=rows), REPORT_DATE)
    tiles = {t.kpi: t for t in build_tiles(data)}
    rework = tiles["deployment_rework_rate"]
    assert (rework.value_text, rework.change_text, rework.change_tone, rework.status.word) == (
        "5.6 %", "▼ -4.4 pp", "good", "Better")
    dora = [m.group(1) for m in re.finditer(r'data-kpi="([^"]+)"', render_html(data))]
    assert dora[dora.index("change_failure_rate") + 1] == "deployment_rework_rate"


def test_maturity_level_stays_what_was_shown_after_a_rescore(tmp_path):
    """The level comes from the snapshot (what was shown that night); when the scorecard of that date has since been
    recomputed to another level (a rubric switch), the section says so instead of showing a new level."""
    import duckdb

    rows = [(REPORT_DATE, "maturity_level", "team", "web", "1d", 3.0, "level", 22)]
    path = build_source(tmp_path / "rescored.duckdb", extra_rows=rows)
    with duckdb.connect(str(path)) as con:
        con.execute(SCORECARD_DDL)
        con.executemany(f"insert into marts.mart_maturity_scorecard values ({', '.join('?' * 19)})",
                        [r for r in SCORECARD_ROWS if r[2] == "web"])
    [view] = maturity_views(load_report_data(path, REPORT_DATE))
    assert (view.level, view.level_text) == (3, "3 Defined")
    assert view.note == ("The scorecard has since been recomputed (rubric v1: level 4); the level is the one shown "
                         "that night.")
    assert view.blockers == []  # the scorecard has nothing unmet at level 4 any more
