{{ config(tags=['every_run']) }}
-- One row per downtime incident with its downtime interval [created_at, least(coalesce(resolved_at, as_of), as_of)).
-- A downtime incident has its urgency in var downtime_urgencies or its priority in var downtime_priorities
-- (case-insensitive). Incidents created after as_of, and empty intervals, are left out.

with incidents as (

    select
        incident_id,
        service_id,
        urgency,
        priority_name,
        created_at,
        resolved_at,
        is_open
    from {{ ref('stg_pagerduty__incidents') }}
    where service_id is not null
      and created_at < {{ as_of() }}

),

downtime_incidents as (

    select
        *,
        least(coalesce(resolved_at, {{ as_of() }}), {{ as_of() }}) as downtime_end_at
    from incidents
    where {{ is_downtime_incident('urgency', 'priority_name') }}

)

select
    incident_id,
    service_id,
    urgency,
    priority_name,
    is_open,
    created_at as downtime_start_at,
    downtime_end_at,
    resolved_at is null or resolved_at > {{ as_of() }} as is_clipped_at_as_of,
    {{ seconds_between('created_at', 'downtime_end_at') }} as downtime_s
from downtime_incidents
where downtime_end_at > created_at
