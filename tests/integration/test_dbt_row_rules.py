"""`row_rules` (dbt_project/tests/generic/row_rules.sql): one test per model for its required columns, keys,
accepted values and ranges, failing with one row per broken rule that the pipeline's failure sampler names."""

from __future__ import annotations

import duckdb

from opskpi import dbt_failures
from tests.integration.dbt_harness import RawData, area, create_warehouse, github_pull, run_dbt_build

SERVICES = [("PSVC1", "platform", 99.9)]  # the harness's config table needs a row
VARS = {"run_date": "2026-11-10", "as_of": "2026-11-11T00:00:00Z", "reporting_timezone": "UTC"}


def test_each_broken_rule_is_one_failing_row_naming_rule_column_and_count(tmp_path):
    good = github_pull(1, "2026-11-01T10:00:00Z", "2026-11-01T10:00:00Z")
    wrong_state = {**github_pull(2, "2026-11-02T10:00:00Z", "2026-11-02T10:00:00Z"), "state": "draft"}
    no_created = {**github_pull(3, "2026-11-03T10:00:00Z", "2026-11-03T10:00:00Z"), "created_at": None}
    path = tmp_path / "warehouse.duckdb"
    pulls = [("acme/api", good), ("acme/api", wrong_state), ("acme/api", no_created)]
    # SLO targets must lie in (0, 100]: 0 and 150 break the range, 100 does not
    services = [("PSVC1", "platform", 100.0), ("PSVC2", "platform", 0.0), ("PSVC3", "web", 150.0)]
    create_warehouse(path, RawData(github_pulls=pulls, config_services=services))
    result = run_dbt_build(path, VARS, tmp_path / "dbt", area("+stg_github__pulls", "+stg_config__services"))
    assert result.returncode != 0
    with duckdb.connect(str(path), read_only=True) as con:
        described = sorted(dbt_failures.describe(con, tmp_path / "dbt" / "target" / "run_results.json"))
    assert len(described) == 2, described
    services_rules, pulls_rules = described
    assert pulls_rules.startswith("test row_rules_stg_github__pulls_") and "failed (2 rows)" in pulls_rules
    assert "rule=not_null; column_name=created_at; bad_rows=1; allowed=a value" in pulls_rules
    assert "rule=accepted_values; column_name=state; bad_rows=1; allowed=open, closed" in pulls_rules
    assert services_rules.startswith("test row_rules_stg_config__services_") and "failed (1 rows)" in services_rules
    assert "rule=range; column_name=slo_target_pct; bad_rows=2; allowed=> 0 and <= 100" in services_rules


def test_nulls_pass_values_and_ranges_and_a_clean_model_passes(tmp_path):
    """A NULL is not an unaccepted value (dbt's accepted_values), and good rows break no rule."""
    pulls = [("acme/api", github_pull(n, f"2026-11-0{n}T10:00:00Z", f"2026-11-0{n}T10:00:00Z")) for n in (1, 2)]
    pulls.append(("acme/api", {**github_pull(3, "2026-11-03T10:00:00Z", "2026-11-03T10:00:00Z"), "state": None}))
    path = tmp_path / "warehouse.duckdb"
    create_warehouse(path, RawData(github_pulls=pulls, config_services=SERVICES))
    result = run_dbt_build(path, VARS, tmp_path / "dbt", area("+stg_github__pulls"))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "PASS row_rules_stg_github__pulls" in result.stdout
