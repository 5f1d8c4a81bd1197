{{ config(tags=['kpi_snapshot_area']) }}
-- KPI area "detection" (time to detect) of the nightly snapshot (definitions: docs/metrics.md "Time to detect"),
-- dense over the scopes of mart_detection_daily, each window recomputed from the facts (pooled, exact):
--   mttd_mean, mttd_p50            detection delay (s) of the eligible incidents created in the window;
--                                  sample_size = incidents measured (NULL value when 0)
--   detection_coverage             100 x measured / eligible (pct); sample_size = eligible incidents
--   monitoring_detection_share     100 x monitoring / (monitoring + human) (pct); sample_size = that denominator
--   change_detection_p50           change detection (s) of failed deployments by the linked incident's day;
--                                  sample_size = those deployments (repo, team and org scopes)

with windows as (

    select snapshot_date, "window", window_start_day
    from {{ ref('int_kpi_snapshot_windows') }}

),

daily_scopes as (

    select distinct scope_type, scope_id, incidents_eligible is not null as has_incidents,
        change_detection_sample_size is not null as has_changes
    from {{ ref('mart_detection_daily') }}

),

incidents as (

    select service_id, team, created_day, incident_id, detection_delay_s, detection_delay_us, detected_by
    from {{ ref('fct_incident_detection') }}
    where is_eligible

),

scoped_incidents as (

    {{ rows_per_scope('select * from incidents', [('service', 'service_id'), ('team', 'team'), ('org', "'org'")]) }}

),

scopes as (

    select scope_type, scope_id from daily_scopes where has_incidents

),

change_scopes as (

    select scope_type, scope_id from daily_scopes where has_changes

),

detection as (

    {{ security_window_stats('scoped_incidents', 'created_day', [
        ('eligible', 'count(scoped_incidents.incident_id)'),
        ('measured', 'count(scoped_incidents.detection_delay_s)'),
        ('mean_s', 'sum(scoped_incidents.detection_delay_us) / (nullif(count(scoped_incidents.detection_delay_us), 0) * 1000000.0)'),
        ('p50_s', percentile('scoped_incidents.detection_delay_s', 0.5)),
        ('monitoring', "count(scoped_incidents.incident_id) filter (where scoped_incidents.detected_by = 'monitoring')"),
        ('human', "count(scoped_incidents.incident_id) filter (where scoped_incidents.detected_by = 'human')"),
    ]) }}

),

changes as (

    select repo, team, day, deployment_id, change_detection_s
    from {{ ref('int_dora_change_detection') }}

),

scoped_changes as (

    {{ rows_per_scope('select * from changes', dora_scopes()) }}

),

change_detection as (

    {{ security_window_stats('scoped_changes', 'day', [
        ('sample', 'count(scoped_changes.change_detection_s)'),
        ('p50_s', percentile('scoped_changes.change_detection_s', 0.5)),
     ], scopes='change_scopes') }}

)

select snapshot_date, 'mttd_mean' as kpi, scope_type, scope_id, "window", mean_s as value, 's' as unit,
       measured as sample_size
from detection
union all
select snapshot_date, 'mttd_p50', scope_type, scope_id, "window", cast(p50_s as double precision), 's', measured
from detection
union all
select snapshot_date, 'detection_coverage', scope_type, scope_id, "window",
       case when eligible > 0 then 100.0 * measured / eligible end, 'pct', eligible
from detection
union all
select snapshot_date, 'monitoring_detection_share', scope_type, scope_id, "window",
       case when monitoring + human > 0 then 100.0 * monitoring / (monitoring + human) end, 'pct', monitoring + human
from detection
union all
select snapshot_date, 'change_detection_p50', scope_type, scope_id, "window", cast(p50_s as double precision), 's', sample
from change_detection
