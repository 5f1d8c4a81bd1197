{{ config(tags=['detection_area']) }}
-- Time to detect per scope and reporting day, dense over the days of int_reporting_days_spined. Definitions:
-- docs/metrics.md "Time to detect".
--   service, team, org: detection delay (fct_incident_detection) of the eligible incidents created that local day:
--     incidents_eligible, detection_sample_size (measured + clamped), mttd_s_mean / _p50 / _p90 (exact; NULL when
--     the sample is empty), detection_coverage_pct = 100 x sample / eligible (NULL with no eligible incident),
--     monitoring_detected / human_detected (first trigger entry's agent), monitoring_detection_pct,
--     detection_clamped, impact_start_invalid.
--   repo, team, org: change detection (int_dora_change_detection) by the local day of the linked incident:
--     change_detection_s_p50, change_detection_sample_size, change_detection_unknown (failed by a revert or hotfix
--     only, on the day of its pull request's merge).
-- Teams and the org pool their items. Service rows have NULL change-detection figures, repo rows NULL MTTD figures.
--
-- A table, rebuilt on every build from the two fact models (see fct_incident_detection).

with days as (

    select day
    from {{ ref('int_reporting_days_spined') }}

),

incidents as (

    select *
    from {{ ref('fct_incident_detection') }}
    where is_eligible

),

incident_scopes as (

    select distinct scope_type, scope_id
    from (
        {{ rows_per_scope('select service_id, team from ' ~ ref('int_incident_services_mapped_to_teams')
                          ~ " where source = 'pagerduty'",
                          [('service', 'service_id'), ('team', 'team'), ('org', "'org'")]) }}
    ) as scoped

),

scoped_incidents as (

    {{ rows_per_scope('select * from incidents', [('service', 'service_id'), ('team', 'team'), ('org', "'org'")]) }}

),

detection as (

    select
        scope_type,
        scope_id,
        created_day as day,
        count(*) as incidents_eligible,
        count(detection_delay_s) as detection_sample_size,
        sum(detection_delay_us) / (count(detection_delay_us) * 1000000.0) as mttd_s_mean,
        cast({{ quantile_cont('detection_delay_s', 0.5) }} as double precision) as mttd_s_p50,
        cast({{ quantile_cont('detection_delay_s', 0.9) }} as double precision) as mttd_s_p90,
        count(*) filter (where detected_by = 'monitoring') as monitoring_detected,
        count(*) filter (where detected_by = 'human') as human_detected,
        count(*) filter (where is_clamped) as detection_clamped,
        count(*) filter (where is_impact_start_invalid) as impact_start_invalid
    from scoped_incidents
    group by 1, 2, 3

),

changes as (

    select *
    from {{ ref('int_dora_change_detection') }}

),

change_scopes as (

    select distinct scope_type, scope_id
    from (
        {{ rows_per_scope('select repo, team from ' ~ ref('int_dora_repos'), dora_scopes()) }}
    ) as scoped

),

scoped_changes as (

    {{ rows_per_scope('select * from changes', dora_scopes()) }}

),

change_detection as (

    select
        scope_type,
        scope_id,
        day,
        cast({{ quantile_cont('change_detection_s', 0.5) }} as double precision) as change_detection_s_p50,
        count(change_detection_s) as change_detection_sample_size,
        count(*) filter (where is_unknown) as change_detection_unknown
    from scoped_changes
    group by 1, 2, 3

),

scopes as (

    -- a team or the org carries MTTD when it has PagerDuty services, change detection when it has DORA repos
    select
        coalesce(incident_scopes.scope_type, change_scopes.scope_type) as scope_type,
        coalesce(incident_scopes.scope_id, change_scopes.scope_id) as scope_id,
        incident_scopes.scope_id is not null as has_incidents,
        change_scopes.scope_id is not null as has_changes
    from incident_scopes
    full outer join change_scopes
        on incident_scopes.scope_type = change_scopes.scope_type
        and incident_scopes.scope_id = change_scopes.scope_id

)

select
    days.day,
    scopes.scope_type,
    scopes.scope_id,
    case when scopes.has_incidents then coalesce(detection.incidents_eligible, 0) end as incidents_eligible,
    case when scopes.has_incidents then coalesce(detection.detection_sample_size, 0) end as detection_sample_size,
    case when detection.detection_sample_size > 0 then detection.mttd_s_mean end as mttd_s_mean,
    detection.mttd_s_p50,
    detection.mttd_s_p90,
    case
        when detection.incidents_eligible > 0
            then 100.0 * detection.detection_sample_size / detection.incidents_eligible
    end as detection_coverage_pct,
    case when scopes.has_incidents then coalesce(detection.monitoring_detected, 0) end as monitoring_detected,
    case when scopes.has_incidents then coalesce(detection.human_detected, 0) end as human_detected,
    case
        when detection.monitoring_detected + detection.human_detected > 0
            then 100.0 * detection.monitoring_detected / (detection.monitoring_detected + detection.human_detected)
    end as monitoring_detection_pct,
    case when scopes.has_incidents then coalesce(detection.detection_clamped, 0) end as detection_clamped,
    case when scopes.has_incidents then coalesce(detection.impact_start_invalid, 0) end as impact_start_invalid,
    change_detection.change_detection_s_p50,
    case when scopes.has_changes then coalesce(change_detection.change_detection_sample_size, 0) end
        as change_detection_sample_size,
    case when scopes.has_changes then coalesce(change_detection.change_detection_unknown, 0) end
        as change_detection_unknown,
    {{ date_key('days.day') }} as date_key,
    {{ scope_keys('scopes.scope_type', 'scopes.scope_id', ['service', 'repository']) }}
from days
cross join scopes
left join detection
    on detection.day = days.day
    and detection.scope_type = scopes.scope_type
    and detection.scope_id = scopes.scope_id
left join change_detection
    on change_detection.day = days.day
    and change_detection.scope_type = scopes.scope_type
    and change_detection.scope_id = scopes.scope_id
