{{ config(tags=['every_run', 'maturity_area']) }}
-- The IT operational maturity scorecard (contract kpi-definitions-wave2.md §7; docs/metrics.md "Maturity
-- scorecard"): every criterion of the selected rubric version (var maturity_rubric_version, seed maturity_rubric)
-- for every day and scope (org, each team) of int_maturity__grid, with its evidence, threshold, sample and status.
-- Recomputed for every day under the selected rubric on every run; kpi_daily_snapshot keeps what was shown.
-- Status, in this order:
--   attested criteria: attested (an attestation of the criterion and scope valid at the end of d: attested_at
--       before it, expires_at at or after it), else attestation_expired (one that was valid before), else
--       attestation_missing. Never pass: the scorecard tells an attestation from a measurement.
--   measured criteria: not_applicable (applies_to service / repo / project and the scope has none), else
--       insufficient_data (the warehouse has no such evidence yet), else when_empty (empty population: sample 0),
--       else insufficient_data (sample < min_sample, or no value), else pass / fail by comparison and threshold.
-- is_met: pass, attested or not_applicable. Attestations of measured criteria are ignored: measured is measured.

with rubric as (

    select *
    from {{ ref('maturity_rubric') }}
    where rubric_version = {{ maturity_rubric_version() }}

),

criteria as (

    select grid.day, grid.day_end_at, grid.scope_type, grid.scope_id, grid.services, grid.repos, grid.projects,
           rubric.*
    from {{ ref('int_maturity__grid') }} as grid
    inner join rubric
        on {{ array_has(split_to_array('rubric.scope_types', "'|'"), 'grid.scope_type') }}

),

attestations as (

    select distinct on (criteria.day, criteria.scope_type, criteria.scope_id, criteria.criterion_id)
           criteria.day, criteria.scope_type, criteria.scope_id, criteria.criterion_id,
           attestations.attested_by, attestations.attested_at, attestations.expires_at, attestations.evidence_url,
           attestations.expires_at >= criteria.day_end_at as is_valid
    from criteria
    inner join {{ ref('int_maturity__attestations') }} as attestations
        on attestations.criterion_id = criteria.criterion_id
        and attestations.scope_type = criteria.scope_type
        and attestations.scope_id = criteria.scope_id
        and attestations.attested_at < criteria.day_end_at
    where criteria.kind = 'attested'
    -- the valid one that lasts longest, else the one that expired last
    order by criteria.day, criteria.scope_type, criteria.scope_id, criteria.criterion_id,
             attestations.expires_at >= criteria.day_end_at desc nulls last, attestations.expires_at desc nulls last,
             attestations.attested_at desc nulls last

),

judged as (

    select
        criteria.*,
        evidence.evidence_value,
        evidence.sample_size,
        evidence.evidence is not null as has_evidence,
        attestations.attested_by,
        attestations.attested_at,
        attestations.expires_at,
        attestations.evidence_url,
        attestations.is_valid as attestation_valid,
        case criteria.applies_to
            when 'service' then criteria.services
            when 'repo' then criteria.repos
            when 'project' then criteria.projects
        end as assets
    from criteria
    left join {{ ref('int_maturity__evidence') }} as evidence
        on criteria.kind = 'measured'
        and evidence.day = criteria.day
        and evidence.scope_type = criteria.scope_type
        and evidence.scope_id = criteria.scope_id
        and evidence.evidence = criteria.evidence
        and evidence.window_days = coalesce(criteria.window_days, 1)
    left join attestations
        on attestations.day = criteria.day
        and attestations.scope_type = criteria.scope_type
        and attestations.scope_id = criteria.scope_id
        and attestations.criterion_id = criteria.criterion_id

),

statuses as (

    select
        *,
        case
            when kind = 'attested' then
                case
                    when attestation_valid then 'attested'
                    when attestation_valid = false then 'attestation_expired'
                    else 'attestation_missing'
                end
            when applies_to <> 'any' and assets = 0 then 'not_applicable'
            when not has_evidence then 'insufficient_data'
            when sample_size = 0 then when_empty
            when sample_size < coalesce(min_sample, 0) or evidence_value is null then 'insufficient_data'
            when {{ maturity_meets('evidence_value', 'comparison', 'threshold') }} then 'pass'
            else 'fail'
        end as status
    from judged

)

select
    day,
    scope_type,
    scope_id,
    rubric_version,
    level,
    criterion_id,
    kind,
    evidence,
    cast(evidence_value as double precision) as evidence_value,
    comparison,
    threshold,
    window_days,
    min_sample,
    cast(sample_size as bigint) as sample_size,
    applies_to,
    status,
    status in ('pass', 'attested', 'not_applicable') as is_met,
    case when kind = 'attested' then attested_by end as attested_by,
    case when kind = 'attested' then attested_at end as attested_at,
    case when kind = 'attested' then expires_at end as expires_at,
    case when kind = 'attested' then evidence_url end as evidence_url,
    description,
    {{ date_key('day') }} as date_key,
    {{ scope_keys('scope_type', 'scope_id', []) }}
from statuses
