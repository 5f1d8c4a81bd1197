-- A table, not a view: the patch mart reads it once per scope and tests read it too.
{{ config(materialized='table', tags=['every_run']) }}

-- One row per Dependabot alert with its patch-policy decision (docs/metrics.md "Patch compliance"; contract:
-- kpi-definitions-wave2.md §3). A patch is an upgrade to security_vulnerability.first_patched_version, so only
-- Dependabot alerts are judged.
--   clock_start_at   created_at (security.patch_clock alert_created) or security_advisory.published_at clamped to
--                    created_at (advisory_published; NULL without published_at)
--   patch_due_at     clock_start_at + sla_days x 86400 s (the same days per severity as the SLA)
--   first_fixed_at, first_dismissed_at   the earliest fix / dismissal (or auto-dismissal) ever seen, the nightly
--                    history included (int_security__closings): a reintroduced (reopened after a fix) alert keeps
--                    its first decision
--   outcome          withdrawn (never judged), met (fixed by patch_due_at), dismissed_before_due (dismissed or
--                    auto-dismissed before patch_due_at and not fixed by it: not judged), missed (not fixed by
--                    patch_due_at, whatever came later), unknown (no deadline: severity outside the SLA table, or
--                    no published_at under advisory_published); NULL while pending (due at or after as_of)
--   decided_at       met / missed: max(created_at, min(first_fixed_at, patch_due_at)); dismissed_before_due: the
--                    dismissal; unknown: created_at. decided_day is its local day.

with alerts as (

    select
        alerts.alert_key,
        alerts.repo,
        alerts.team,
        alerts.severity,
        alerts.sla_days,
        alerts.created_at,
        alerts.withdrawn_at,
        dependabot.advisory_published_at,
        dependabot.first_patched_version
    from {{ ref('fct_security_alerts') }} as alerts
    inner join {{ ref('stg_github__dependabot_alerts') }} as dependabot
        on alerts.repo = dependabot.repo
        and alerts.alert_number = dependabot.alert_number
    where alerts.tool = 'dependabot'
      and alerts.created_at < {{ as_of() }}

),

firsts as (

    select
        alert_key,
        min(closed_at) filter (where close_reason = 'fixed') as first_fixed_at,
        min(closed_at) filter (where close_reason in ('dismissed', 'auto_dismissed')) as first_dismissed_at
    from {{ ref('int_security__closings') }}
    where tool = 'dependabot'
    group by alert_key

),

clocks as (

    select
        alerts.*,
        firsts.first_fixed_at,
        firsts.first_dismissed_at,
        {{ security_patch_clock_start('alerts.created_at', 'alerts.advisory_published_at') }} as clock_start_at
    from alerts
    left join firsts
        on alerts.alert_key = firsts.alert_key

),

deadlines as (

    select
        *,
        clock_start_at + {{ seconds_interval('sla_days * 86400') }} as patch_due_at
    from clocks

),

judged as (

    select
        *,
        case
            when withdrawn_at is not null then 'withdrawn'
            when patch_due_at is null then 'unknown'
            when first_fixed_at <= patch_due_at then 'met'
            when first_dismissed_at < patch_due_at then 'dismissed_before_due'
            when patch_due_at < {{ as_of() }} then 'missed'
        end as outcome
    from deadlines

),

decided as (

    select
        *,
        case outcome
            when 'met' then greatest(created_at, first_fixed_at)
            when 'missed' then greatest(created_at, patch_due_at)
            when 'dismissed_before_due' then greatest(created_at, first_dismissed_at)
            when 'unknown' then created_at
        end as decided_at
    from judged

)

select
    *,
    {{ to_local_date('decided_at') }} as decided_day
from decided
