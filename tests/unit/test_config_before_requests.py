"""`opskpi run` with a bad configuration stops with exit code 2 before sending a single request.

One line on stderr names the key and the fix; the emulator the configuration points at sees nothing.
"""

from __future__ import annotations

import pytest
import yaml

from emulator.server import start_emulator
from opskpi import cli

TOKENS = {"CFG_JIRA_TOKEN": "jira-demo-token", "CFG_PD_TOKEN": "pd-demo-token", "CFG_GH_TOKEN": "gh-demo-token"}


def good(base_url: str, data_dir: str) -> dict:
    return {
        "data_dir": data_dir,
        "reporting": {"timezone": "Europe/Berlin"},
        "sources": {
            "jira": {"base_url": f"{base_url}/jira", "email": "demo@example.com", "token_env": "CFG_JIRA_TOKEN",
                     "projects": ["OPS"]},
            "pagerduty": {"base_url": f"{base_url}/pagerduty", "token_env": "CFG_PD_TOKEN"},
            "github": {"base_url": f"{base_url}/github", "token_env": "CFG_GH_TOKEN", "repos": ["acme/api"]},
        },
    }


CASES = [
    ("unknown top-level key", lambda c: c.update(sourcse={}), "sourcse: unknown top-level key", "known keys are"),
    ("unknown source key", lambda c: c["sources"]["github"].update(repo=["acme/api"]),
     "sources.github.repo: unknown key", "known keys are"),
    ("missing token variable", lambda c: c["sources"]["github"].update(token_env="CFG_NOT_SET_ANYWHERE"),
     "sources.github.token_env: environment variable CFG_NOT_SET_ANYWHERE is empty or not set", "export"),
    ("malformed URL", lambda c: c["sources"]["pagerduty"].update(base_url="htp:/api.pagerduty.com"),
     "sources.pagerduty.base_url: 'htp:/api.pagerduty.com' is not an http(s) URL", "e.g. https://"),
    ("URL with a space", lambda c: c["sources"]["pagerduty"].update(base_url="https://api.pager duty.com"),
     "sources.pagerduty.base_url:", "is not an http(s) URL"),
    ("URL with a bad port", lambda c: c["sources"]["jira"].update(base_url="https://acme.atlassian.net:99999"),
     "sources.jira.base_url:", "is not an http(s) URL"),
    ("URL with credentials", lambda c: c["sources"]["jira"].update(base_url="https://me:secret@acme.atlassian.net"),
     "sources.jira.base_url: the URL carries credentials", "token_env"),
    ("unknown time zone", lambda c: c["reporting"].update(timezone="Europe/Atlantis"),
     "reporting.timezone: 'Europe/Atlantis' is not an IANA time zone", "e.g. Europe/Berlin"),
    ("empty project list", lambda c: c["sources"]["jira"].update(projects=[]),
     "sources.jira.projects: list at least one Jira project key", "e.g. [OPS]"),
    ("empty repository list", lambda c: c["sources"]["github"].update(repos=[]),
     "sources.github.repos: list at least one repository", "owner/name"),
    ("malformed repository", lambda c: c["sources"]["github"].update(repos=["acme"]),
     "sources.github.repos[0]: 'acme' is not a GitHub repository", "owner/name"),
    # Names a vendor could never have: they would go into URL paths, JQL and SQL (issue 17, item 10).
    ("repository climbing out of its path", lambda c: c["sources"]["github"].update(repos=["../.."]),
     "sources.github.repos[0]: '../..' is not a GitHub repository", "owner/name"),
    ("repository with a query", lambda c: c["sources"]["github"].update(repos=["acme/api?x=1"]),
     "sources.github.repos[0]: 'acme/api?x=1' is not a GitHub repository", "'.', '_' and '-'"),
    ("repository owner with a dot", lambda c: c["sources"]["github"].update(repos=["ac.me/api"]),
     "sources.github.repos[0]: 'ac.me/api' is not a GitHub repository", "single inner hyphens"),
    ("lower-case Jira project", lambda c: c["sources"]["jira"].update(projects=["ops"]),
     "sources.jira.projects[0]: 'ops' is not a Jira project key", "upper-case"),
    ("Jira project with a quote", lambda c: c["sources"]["jira"].update(projects=["OPS\" OR 1=1"]),
     "sources.jira.projects[0]: 'OPS\" OR 1=1' is not a Jira project key", "e.g. OPS"),
    ("PagerDuty service id with a path", lambda c: c.update(services={"../incidents": {"team": "x"}}),
     "services.../incidents: '../incidents' is not a PagerDuty id", "PKB23Z8"),
    ("PagerDuty id in a repository's services", lambda c: c.update(dora={"repo_services": {"acme/api": ["p 1"]}}),
     "dora.repo_services.acme/api[0]: 'p 1' is not a PagerDuty id", "upper-case letters and digits"),
    ("repository key of the DORA team map", lambda c: c.update(dora={"repo_teams": {"acme/x y": "t"}}),
     "dora.repo_teams.acme/x y: 'acme/x y' is not a GitHub repository", "owner/name"),
    ("Jira project key of the team map", lambda c: c.update(jira_flow={"project_teams": {"O-PS": "t"}}),
     "jira_flow.project_teams.O-PS: 'O-PS' is not a Jira project key", "e.g. OPS"),
    ("body cap", lambda c: c["sources"]["github"].update(max_body_mb=0),
     "sources.github.max_body_mb: 0 must be a positive number", "e.g. 50"),
    ("no tries", lambda c: c["sources"]["jira"].update(max_attempts=0),
     "sources.jira.max_attempts: 0 must be a positive whole number", "e.g. 8"),
    ("bad read timeout", lambda c: c["sources"]["github"].update(read_timeout="soon"),
     "sources.github.read_timeout: 'soon' is not a duration", "e.g. '30d'"),
    ("bad page budget", lambda c: c["sources"]["jira"].update(max_pages=0),
     "sources.jira.max_pages: 0 must be a positive whole number", "e.g. 10000"),
    ("unset ${VAR} in a URL", lambda c: c["sources"]["jira"].update(base_url="${CFG_NO_SUCH_URL}/jira"),
     "sources.jira.base_url: environment variable CFG_NO_SUCH_URL is not set", "export it"),
]


@pytest.fixture(scope="module")
def emulator():
    with start_emulator(profile="stress") as emu:
        yield emu


@pytest.mark.parametrize(("name", "mutate", "key", "fix"), CASES, ids=[c[0] for c in CASES])
def test_bad_config_exits_2_before_any_request(name, mutate, key, fix, emulator, tmp_path, monkeypatch, capsys):
    for variable, value in TOKENS.items():
        monkeypatch.setenv(variable, value)
    raw = good(emulator.base_url, str(tmp_path / "data"))
    mutate(raw)
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(raw))
    emulator.app.stats.reset()

    code = cli.main(["run", "--config", str(path), "--date", "2026-11-19"])

    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.count("\n") == 0, f"one message, not a traceback: {err}"
    assert err.startswith("configuration error: ") and key in err and fix in err, err
    assert emulator.stats() == {}, "no request may leave before the configuration is known good"
    assert not (tmp_path / "data").exists(), "nothing is written either"


def test_read_timeout_and_page_budget_reach_the_extraction(tmp_path, monkeypatch):
    from extractors.sources import build_source
    from opskpi.config import parse_config

    for variable, value in TOKENS.items():
        monkeypatch.setenv(variable, value)
    raw = good("http://127.0.0.1:1", str(tmp_path / "data"))
    for settings in raw["sources"].values():
        settings.update(read_timeout="7s", max_pages=42, max_attempts=13)
    config = parse_config(raw, tmp_path)
    for name in ("jira", "pagerduty", "github"):
        client = build_source(name, config.source_settings(name)).client()
        assert client.timeout == (5.0, 7.0), name
        assert client.retry.max_attempts == 13, name
        assert config.sources[name].max_pages == 42
    assert parse_config(good("http://127.0.0.1:1", str(tmp_path)), tmp_path).sources["jira"].read_timeout == "60s"
