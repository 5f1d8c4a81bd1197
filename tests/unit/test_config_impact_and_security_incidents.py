"""`services.<id>` prices, `business_impact` and `security_incidents`: refused with the key and the value, and
carried to dbt (a raw table for the prices, dbt vars for the currency and the rules)."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from opskpi.config import ConfigError, parse_config
from opskpi.pipeline import RunContext, write_config_tables
from tests.conftest import config_dict


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"services": {"P1": {"downtime_cost_per_minute": -1}}},
         r"services\.P1\.downtime_cost_per_minute: -1 must be a price per minute of at least 0"),
        ({"services": {"P1": {"revenue_per_minute": -0.5}}}, r"services\.P1\.revenue_per_minute: -0\.5 must be"),
        ({"services": {"P1": {"downtime_cost_per_minute": "12"}}},
         r"services\.P1\.downtime_cost_per_minute: '12': input should be a valid number"),
        ({"services": {"P1": {"currency": "EUR"}}}, r"services\.P1\.currency: unknown key"),
        ({"business_impact": {"currency": "euro"}}, r"business_impact\.currency: 'euro' is not an ISO 4217"),
        ({"business_impact": {"currency": "Eur"}}, r"business_impact\.currency: 'Eur' is not an ISO 4217"),
        ({"security_incidents": {"title_pattern": "(?!benign)security"}},
         r"security_incidents\.title_pattern: '\(\?!benign\)security' is not a regular expression DuckDB's RE2"),
        ({"security_incidents": {"title_pattern": "(unclosed"}}, r"security_incidents\.title_pattern: '\(unclosed'"),
        ({"security_incidents": {"service_ids": ["payments-api"]}},
         r"security_incidents\.service_ids\[0\]: 'payments-api' is not a PagerDuty id"),
        ({"security_incidents": {"incident_types": ["  "]}}, r"security_incidents\.incident_types\[0\]: '  ' must not"),
        ({"security_incidents": {"jira_types": ["Security"]}}, r"security_incidents\.jira_types: unknown key"),
    ],
)
def test_bad_prices_and_rules_name_the_key_and_value(tmp_path, overrides, expected):
    with pytest.raises(ConfigError, match=expected):
        parse_config(config_dict(**overrides), tmp_path)


def test_every_rule_is_empty_by_default(tmp_path):
    # all empty = the area is off (the dbt models then have no rows: tests/integration/test_dbt_incidents.py)
    rules = parse_config(config_dict(), tmp_path).security_incidents
    assert (rules.service_ids, rules.incident_types, rules.priorities, rules.title_pattern,
            rules.jira_issue_types) == ([], [], [], None, [])


def test_prices_reach_the_warehouse_and_the_settings_reach_dbt(tmp_path):
    config = parse_config(config_dict(
        services={"PKB23Z8": {"team": "platform", "downtime_cost_per_minute": 120},
                  "PE7MXL4": {"revenue_per_minute": 40.5},
                  "POD369M": {"team": "payments"}},
        business_impact={"currency": "EUR"},
        security_incidents={"service_ids": ["PKB23Z8"], "title_pattern": "breach"}), tmp_path)
    con = duckdb.connect()
    write_config_tables(con, config)
    # only priced services have a row: POD369M's cost is unknown, not 0
    assert con.execute("select * from raw.config__service_prices order by 1").fetchall() == [
        ("PE7MXL4", None, 40.5), ("PKB23Z8", 120.0, None)]
    write_config_tables(con, parse_config(config_dict(), tmp_path))  # replaced whole by the next load
    assert con.execute("select count(*) from raw.config__service_prices").fetchone() == (0,)
    dbt_vars = RunContext.for_date(config, date(2026, 1, 10), "r1").dbt_vars(config)
    assert dbt_vars["business_impact_currency"] == "EUR"
    assert (dbt_vars["security_incident_service_ids"], dbt_vars["security_incident_title_pattern"],
            dbt_vars["security_incident_types"], dbt_vars["security_incident_priorities"],
            dbt_vars["security_incident_jira_issue_types"]) == (["PKB23Z8"], "breach", [], [], [])
