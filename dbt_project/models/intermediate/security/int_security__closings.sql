-- A table, not a view: the posture mart reads it once per scope (repo, team, org) and tests read it too.
{{ config(materialized='table', tags=['every_run']) }}

-- Every closing of a security alert seen: today's (fct_security_alerts) and any the nightly history recorded
-- that the API no longer shows (an alert dismissed, then reopened). One row per alert, close_reason and closed_at,
-- with the local day it happened on and, for remediations (fixed, resolved), the time to remediate.

with closings as (

    select alert_key, close_reason, closed_at
    from {{ ref('fct_security_alerts') }}
    where closed_at is not null

    union

    select alert_key, close_reason, closed_at
    from {{ ref('int_security__alert_state_history') }}
    where closed_at is not null

)

select
    closings.alert_key,
    alerts.repo,
    alerts.team,
    alerts.tool,
    alerts.severity,
    closings.close_reason,
    closings.closed_at,
    {{ to_local_date('closings.closed_at') }} as closed_day,
    closings.close_reason in ('fixed', 'resolved') as is_remediation,
    case when closings.close_reason in ('fixed', 'resolved')
        then {{ seconds_between('alerts.created_at', 'closings.closed_at') }} end as time_to_remediate_s
from closings
inner join {{ ref('fct_security_alerts') }} as alerts
    on closings.alert_key = alerts.alert_key
where closings.closed_at < {{ as_of() }}
