"""`detection` (time to detect): refused with the key and the value, and carried to dbt as vars."""

from __future__ import annotations

from datetime import date

import pytest

from opskpi.config import ConfigError, parse_config
from opskpi.pipeline import RunContext
from tests.conftest import config_dict


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"detection": {"impact_start_paths": ["body.cef_details['creation_time']"]}},
         r"detection\.impact_start_paths\[0\]: \"body\.cef_details\['creation_time'\]\" is not a dotted path"),
        ({"detection": {"impact_start_paths": []}}, r"detection\.impact_start_paths: .*give at least one path"),
        ({"detection": {"max_clock_skew": "five minutes"}},
         r"detection\.max_clock_skew: 'five minutes' is not a duration"),
        ({"detection": {"max_skew": "5m"}}, r"detection\.max_skew: unknown key"),
    ],
)
def test_bad_detection_settings_name_the_key_and_value(tmp_path, overrides, expected):
    with pytest.raises(ConfigError, match=expected):
        parse_config(config_dict(**overrides), tmp_path)


def test_detection_settings_reach_dbt(tmp_path):
    default = parse_config(config_dict(), tmp_path)
    ctx = RunContext.for_date(default, date(2026, 3, 10), "r")
    assert ctx.dbt_vars(default)["detection_impact_start_paths"] == ["body.cef_details.creation_time"]
    assert ctx.dbt_vars(default)["detection_max_clock_skew_s"] == 300
    config = parse_config(config_dict(detection={
        "impact_start_paths": ["body.cef_details.details.firing_since", "body.cef_details.creation_time"],
        "max_clock_skew": "2m"}), tmp_path)
    assert ctx.dbt_vars(config)["detection_impact_start_paths"][0] == "body.cef_details.details.firing_since"
    assert ctx.dbt_vars(config)["detection_max_clock_skew_s"] == 120
