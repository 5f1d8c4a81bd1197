{{ config(tags=['every_run', 'maturity_area']) }}
-- The configured attestations (config maturity.attestations -> var maturity_attestations): what the APIs cannot
-- see, such as a tested DR plan, stated by a person with a date, an expiry (default attested_at + 365 days) and
-- a link to the evidence. Only attested criteria of the selected rubric may be attested: the config refuses an
-- attestation of a criterion the rubric measures (opskpi/config.py), and the scorecard ignores one that slips
-- through, so attested can never stand in for measured.

select
    trim(criterion_id) as criterion_id,
    lower(trim(coalesce(scope_type, 'org'))) as scope_type,
    trim(coalesce(scope_id, 'org')) as scope_id,
    attested_by,
    attested_at,
    expires_at,
    evidence_url
from {{ maturity_attestations_relation() }} as attestations
