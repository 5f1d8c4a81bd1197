"""`lead_time_e2e` (end-to-end lead time): refused with the key and the value, and carried to dbt as vars with the
KPI contract's defaults, beside the configured Jira projects that decide which keys link."""

from __future__ import annotations

from datetime import date

import pytest

from opskpi.config import ConfigError, parse_config
from opskpi.pipeline import RunContext
from tests.conftest import config_dict


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"lead_time_e2e": {"late_link_grace": "a week"}},
         r"lead_time_e2e\.late_link_grace: 'a week' is not a duration"),
        ({"lead_time_e2e": {"release_projects": ["ops"]}},
         r"lead_time_e2e\.release_projects\[0\]: 'ops' is not a Jira"),
        ({"lead_time_e2e": {"excluded_resolutions": [" "]}}, r"lead_time_e2e\.excluded_resolutions\[0\]: .*blank"),
        ({"lead_time_e2e": {"grace": "7d"}}, r"lead_time_e2e\.grace: unknown key"),
    ],
)
def test_bad_lead_time_e2e_settings_name_the_key_and_value(tmp_path, overrides, expected):
    with pytest.raises(ConfigError, match=expected):
        parse_config(config_dict(**overrides), tmp_path)


def test_lead_time_e2e_settings_reach_dbt(tmp_path):
    default = parse_config(config_dict(), tmp_path)
    ctx = RunContext.for_date(default, date(2026, 11, 10), "r")
    dbt_vars = ctx.dbt_vars(default)
    assert dbt_vars["jira_projects"] == ["OPS"]
    assert dbt_vars["lead_time_e2e_excluded_resolutions"] == ["Won't Do", "Duplicate", "Cannot Reproduce"]
    assert dbt_vars["lead_time_e2e_excluded_issue_types"] == ["Epic"]
    assert dbt_vars["lead_time_e2e_late_link_grace_s"] == 7 * 86400
    assert dbt_vars["lead_time_e2e_release_projects"] == []
    config = parse_config(config_dict(lead_time_e2e={"late_link_grace": "3d", "release_projects": ["OPS"],
                                                     "excluded_issue_types": ["Epic", "Sub-task"]}), tmp_path)
    dbt_vars = ctx.dbt_vars(config)
    assert (dbt_vars["lead_time_e2e_late_link_grace_s"], dbt_vars["lead_time_e2e_release_projects"],
            dbt_vars["lead_time_e2e_excluded_issue_types"]) == (3 * 86400, ["OPS"], ["Epic", "Sub-task"])


def test_release_projects_reach_the_jira_extract(tmp_path):
    """The versions stream reads the release projects that are configured Jira projects (no others: their issues are
    not read); none by default."""
    from extractors.sources import build_source

    def versions_paths(config) -> list[str]:
        source = build_source("jira", config.source_settings("jira", with_secret=False))
        stream = next(s for s in source.streams if s.name == "versions")
        return [r.path for p in stream.partitions for r in stream.requests(p, None)]  # a partition per project

    assert versions_paths(parse_config(config_dict(), tmp_path)) == []
    config = parse_config(config_dict(lead_time_e2e={"release_projects": ["OPS", "REL"]}), tmp_path)
    assert config.source_settings("jira", with_secret=False)["release_projects"] == ["OPS", "REL"]
    assert versions_paths(config) == ["/rest/api/3/project/OPS/version"]
