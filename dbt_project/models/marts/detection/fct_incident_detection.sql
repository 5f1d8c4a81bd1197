{{ config(tags=['every_run', 'detection_area']) }}
-- One row per PagerDuty incident created up to as_of: how long its impact went undetected, and who detected it.
-- Definitions: docs/metrics.md "Time to detect".
--   detected_at        the earlier of its created_at and the created_at of every incident merged into it by as_of
--   impact_start_at    the earliest monitor event time (stg_pagerduty__incident_alerts.impact_start_at) of its
--                      alerts received by as_of and not suppressed
--   detection_status   measured | clamped (impact start after detection by at most var detection_max_clock_skew_s:
--                      delay 0) | invalid_stamp (after it by more: unknown) | no_stamp (alerts, none stamped) |
--                      no_alerts (alert_counts.all = 0) | alerts_not_loaded | merged (resolved into another
--                      incident by as_of: not eligible, its alerts belong to the target)
--   detection_delay_s  detected_at - impact_start_at for measured, 0 for clamped, else NULL
--   detected_by        human (first trigger log entry's agent is a user_reference) | monitoring (any other agent) |
--                      NULL (no trigger entry loaded)
-- A merge is known from the merged incident's resolve_reason and happened at its resolution: a replay of a day
-- before the merge sees both incidents unmerged, each with the alerts it held then (held_alerts).
--
-- A table, rebuilt on every build: a late alert, a merge or a trigger entry changes an old incident's row.

with incidents as (

    select incident_id, service_id, created_at, resolved_at, alert_count, merged_into_incident_id
    from {{ ref('stg_pagerduty__incidents') }}
    where created_at <= {{ as_of() }}

),

merged as (

    -- merged by as_of: the merge resolved it
    select incident_id, merged_into_incident_id, created_at
    from incidents
    where merged_into_incident_id is not null
      and resolved_at <= {{ as_of() }}

),

detections as (

    select
        incidents.incident_id,
        least(incidents.created_at, min(merged.created_at)) as detected_at,
        count(merged.incident_id) as merged_incidents
    from incidents
    left join merged
        on merged.merged_into_incident_id = incidents.incident_id
    group by incidents.incident_id, incidents.created_at

),

listed_alerts as (

    select alert_id, incident_id, created_at, impact_start_at
    from {{ ref('stg_pagerduty__incident_alerts') }}
    where created_at <= {{ as_of() }}
      and not is_suppressed

),

held_alerts as (

    -- the alerts each incident held at as_of. A merge moves the merged incident's alerts to its target: a row under
    -- the target is not the target's yet at as_of when the alert was (also) listed under an incident merged into it
    -- only after as_of, or, never seen under another incident, when it was received before the target existed and
    -- nothing was merged into the target by as_of
    select listed.incident_id, listed.alert_id, listed.impact_start_at
    from listed_alerts as listed
    inner join incidents as holder
        on listed.incident_id = holder.incident_id
    where not exists (
        select 1
        from listed_alerts as other
        inner join incidents as source
            on other.incident_id = source.incident_id
        where other.alert_id = listed.alert_id
          and source.merged_into_incident_id = listed.incident_id
          and source.incident_id not in (select incident_id from merged)
    )
      and (
        listed.created_at >= holder.created_at
        or exists (select 1 from merged where merged.merged_into_incident_id = listed.incident_id)
      )

),

alerts as (

    select
        incident_id,
        count(*) as alerts_loaded,
        count(impact_start_at) as alerts_stamped,
        min(impact_start_at) as impact_start_at
    from held_alerts
    group by incident_id

),

triggers as (

    select distinct on (incident_id) incident_id, agent_type
    from {{ ref('stg_pagerduty__log_entries') }}
    where log_entry_type = 'trigger_log_entry'
      and created_at <= {{ as_of() }}
    order by incident_id, created_at, log_entry_id

),

services as (

    select service_id, service_name, team
    from {{ ref('int_incident_services_mapped_to_teams') }}

),

joined as (

    select
        incidents.incident_id,
        incidents.service_id,
        coalesce(services.service_name, incidents.service_id) as service_name,
        coalesce(services.team, 'unassigned') as team,
        incidents.created_at,
        {{ to_local_date('incidents.created_at') }} as created_day,
        detections.detected_at,
        detections.merged_incidents,
        merged.merged_into_incident_id,
        incidents.alert_count,
        coalesce(alerts.alerts_loaded, 0) as alerts_loaded,
        coalesce(alerts.alerts_stamped, 0) as alerts_stamped,
        alerts.impact_start_at,
        {{ epoch_us('alerts.impact_start_at') }} - {{ epoch_us('detections.detected_at') }} as skew_us,
        triggers.agent_type as trigger_agent_type
    from incidents
    inner join detections
        on incidents.incident_id = detections.incident_id
    left join merged
        on incidents.incident_id = merged.incident_id
    left join alerts
        on incidents.incident_id = alerts.incident_id
    left join triggers
        on incidents.incident_id = triggers.incident_id
    left join services
        on incidents.service_id = services.service_id

),

classified as (

    select
        *,
        case
            when merged_into_incident_id is not null then 'merged'
            when alerts_loaded = 0 and alert_count = 0 then 'no_alerts'
            when alerts_loaded = 0 then 'alerts_not_loaded'
            when impact_start_at is null then 'no_stamp'
            when skew_us > {{ detection_max_clock_skew_s() }} * 1000000 then 'invalid_stamp'
            when skew_us > 0 then 'clamped'
            else 'measured'
        end as detection_status
    from joined

)

select
    incident_id,
    service_id,
    service_name,
    team,
    created_at,
    created_day,
    detected_at,
    merged_incidents,
    merged_into_incident_id,
    merged_into_incident_id is null as is_eligible,
    alert_count,
    alerts_loaded,
    alerts_stamped,
    impact_start_at,
    detection_status,
    case
        when detection_status = 'measured' then -skew_us / 1000000.0
        when detection_status = 'clamped' then 0.0
    end as detection_delay_s,
    case when detection_status = 'measured' then -skew_us when detection_status = 'clamped' then 0 end
        as detection_delay_us,
    detection_status = 'clamped' as is_clamped,
    detection_status = 'invalid_stamp' as is_impact_start_invalid,
    trigger_agent_type,
    case
        when trigger_agent_type = 'user_reference' then 'human'
        when trigger_agent_type is not null then 'monitoring'
    end as detected_by,
    {{ date_key('created_day') }} as date_key,
    {{ dim_key('service', 'service_id') }} as service_key,
    {{ dim_key('team', 'team') }} as team_key
from classified
