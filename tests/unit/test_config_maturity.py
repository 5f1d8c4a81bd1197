"""`maturity`: the rubric version and the attestations, refused with the key and the value when wrong, and carried
to dbt as vars (docs/metrics.md "Maturity scorecard")."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from opskpi.config import ConfigError, parse_config, rubric_criteria
from opskpi.pipeline import RunContext
from tests.conftest import config_dict

GOOD = {"criterion_id": "dr_tested", "scope_type": "team", "scope_id": "payments", "attested_by": "jane.doe",
        "attested_at": "2026-03-01T00:00:00Z", "evidence_url": "https://wiki.acme.io/dr-test-2026"}


def attest(**changes) -> dict:
    return {"maturity": {"attestations": [{**GOOD, **changes}]}}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"maturity": {"rubric_version": "v9"}},
         r"maturity\.rubric_version: 'v9' has no rows in dbt_project/seeds/maturity_rubric\.csv"),
        ({"maturity": {"rubric_version": "v1; drop"}}, r"maturity\.rubric_version: 'v1; drop' is not a rubric version"),
        ({"maturity": {"levels": 5}}, r"maturity\.levels: unknown key"),
        (attest(criterion_id="slo_met"), r"maturity\.attestations\[0\]\.criterion_id: 'slo_met' is measured in rubric "
                                         r"v1: a measured criterion cannot be attested; attested criteria are "
                                         r"dr_tested, error_budget_policy, postmortems, runbooks"),
        (attest(criterion_id="dr_test"), r"maturity\.attestations\[0\]\.criterion_id: 'dr_test' is not a criterion"),
        (attest(attested_at="yesterday"), r"maturity\.attestations\[0\]\.attested_at: 'yesterday' is not an ISO-8601"),
        (attest(attested_at="2026-03-01T00:00:00"), r"maturity\.attestations\[0\]\.attested_at: .* has no UTC offset"),
        (attest(expires_at="2026-02-01T00:00:00Z"), r"maturity\.attestations\[0\]\.expires_at: .* is not after"),
        (attest(evidence_url="wiki/dr"), r"maturity\.attestations\[0\]\.evidence_url: 'wiki/dr' is not an http\(s\)"),
        (attest(scope_type="service"), r"maturity\.attestations\[0\]\.scope_type: 'service'"),
        (attest(scope_type="org"), r"maturity\.attestations\[0\]\.scope_id: 'payments': an org attestation"),
        (attest(attested_by=" "), r"maturity\.attestations\[0\]\.attested_by: ' ' is blank: say who attested"),
        ({"maturity": {"attestations": [{k: v for k, v in GOOD.items() if k != "evidence_url"}]}},
         r"maturity\.attestations\[0\]\.evidence_url: Field required"),
    ],
)
def test_bad_maturity_settings_name_the_key_and_value(tmp_path, overrides, expected):
    with pytest.raises(ConfigError, match=expected):
        parse_config(config_dict(**overrides), tmp_path)


def test_attestations_reach_dbt_with_their_default_expiry(tmp_path):
    config = parse_config(config_dict(**attest()), tmp_path)
    [attestation] = config.maturity.attestations
    assert attestation.expires_at == datetime(2027, 3, 1, tzinfo=UTC)  # attested_at + 365 days
    dbt_vars = RunContext.for_date(config, date(2026, 3, 10), "r1").dbt_vars(config)
    assert dbt_vars["maturity_rubric_version"] == "v1"
    assert dbt_vars["maturity_attestations"] == [{
        "criterion_id": "dr_tested", "scope_type": "team", "scope_id": "payments", "attested_by": "jane.doe",
        "attested_at": "2026-03-01T00:00:00+00:00", "expires_at": "2027-03-01T00:00:00+00:00",
        "evidence_url": "https://wiki.acme.io/dr-test-2026"}]
    # none configured: the default rubric and no attestations
    plain = parse_config(config_dict(), tmp_path)
    assert (plain.maturity.rubric_version, plain.maturity.attestations) == ("v1", [])


def test_the_default_rubric_is_the_contracts_v1():
    criteria = rubric_criteria("v1")
    assert len(criteria) == 22
    assert sorted(c for c, kind in criteria.items() if kind == "attested") == [
        "dr_tested", "error_budget_policy", "postmortems", "runbooks"]
