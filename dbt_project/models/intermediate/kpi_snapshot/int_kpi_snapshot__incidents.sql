{{ config(tags=['kpi_snapshot_area']) }}
-- KPI area "incidents" of the nightly snapshot, from fct_incidents (definitions: docs/metrics.md "Incidents").
-- Dense: every scope of mart_incident_response_daily (org, each team, each service) x window x date.
-- Team and org figures pool the incidents of their services. Empty samples give NULL with sample_size 0.
--   mtta_mean, mtta_p50   TTA (s) of incidents created in the window (local days) and acknowledged by as_of
--   mttr_mean, mttr_p50   TTR (s) of incidents resolved in the window (local days), up to as_of
--   incidents_open        window 1d only: incidents created before the end of the day and not resolved by
--                         then (by as_of on run_date); sample_size = the count
-- For window 1d these equal mart_incident_response_daily's figures of that day (tested).

with windows as (

    select snapshot_date, "window", window_start_day, window_end_at
    from {{ ref('int_kpi_snapshot_windows') }}

),

scopes as (

    select distinct scope_type, scope_id
    from {{ ref('mart_incident_response_daily') }}

),

incidents as (

    select
        service_id,
        team,
        created_at,
        resolved_at,
        {{ to_local_date('created_at') }} as created_day,
        {{ to_local_date('resolved_at') }} as resolved_day,
        tta_s,
        ttr_s,
        -- exact integer microseconds for the means (as the mart computes them)
        {{ epoch_us('acknowledged_at') }} - {{ epoch_us('created_at') }} as tta_us,
        {{ epoch_us('resolved_at') }} - {{ epoch_us('created_at') }} as ttr_us
    from {{ ref('fct_incidents') }}

),

scoped_incidents as (

    {{ rows_per_scope('select * from incidents', [('service', 'service_id'), ('team', 'team'), ('org', "'org'")]) }}

),

tta as (

    {{ window_stats('windows', 'scoped_incidents', 'created_day',
                    [('mean_s', 'sum(facts.tta_us) / (count(*) * 1000000.0)'), ('p50_s', percentile('facts.tta_s', 0.5))],
                    where='facts.tta_s is not null') }}

),

ttr as (

    {{ window_stats('windows', 'scoped_incidents', 'resolved_day',
                    [('mean_s', 'sum(facts.ttr_us) / (count(*) * 1000000.0)'), ('p50_s', percentile('facts.ttr_s', 0.5))],
                    where='facts.ttr_s is not null') }}

),

open_incidents as (

    select
        windows.snapshot_date,
        scoped_incidents.scope_type,
        scoped_incidents.scope_id,
        count(*) as open_count
    from windows
    inner join scoped_incidents
        on scoped_incidents.created_at < windows.window_end_at
        and (scoped_incidents.resolved_at is null or scoped_incidents.resolved_at >= windows.window_end_at)
    where windows."window" = '1d'
    group by 1, 2, 3

),

grid as (

    select windows.snapshot_date, windows."window", scopes.scope_type, scopes.scope_id
    from windows
    cross join scopes

),

response as (

    select
        grid.*,
        tta.mean_s as mtta_mean,
        tta.p50_s as mtta_p50,
        coalesce(tta.sample_size, 0) as mtta_sample_size,
        ttr.mean_s as mttr_mean,
        ttr.p50_s as mttr_p50,
        coalesce(ttr.sample_size, 0) as mttr_sample_size
    from grid
    left join tta
        on tta.snapshot_date = grid.snapshot_date
        and tta."window" = grid."window"
        and tta.scope_type = grid.scope_type
        and tta.scope_id = grid.scope_id
    left join ttr
        on ttr.snapshot_date = grid.snapshot_date
        and ttr."window" = grid."window"
        and ttr.scope_type = grid.scope_type
        and ttr.scope_id = grid.scope_id

)

select snapshot_date, 'mtta_mean' as kpi, scope_type, scope_id, "window", mtta_mean as value, 's' as unit,
       mtta_sample_size as sample_size
from response
union all
select snapshot_date, 'mtta_p50', scope_type, scope_id, "window", mtta_p50, 's', mtta_sample_size from response
union all
select snapshot_date, 'mttr_mean', scope_type, scope_id, "window", mttr_mean, 's', mttr_sample_size from response
union all
select snapshot_date, 'mttr_p50', scope_type, scope_id, "window", mttr_p50, 's', mttr_sample_size from response
union all
select
    grid.snapshot_date,
    'incidents_open',
    grid.scope_type,
    grid.scope_id,
    '1d',
    coalesce(open_incidents.open_count, 0),
    'count',
    coalesce(open_incidents.open_count, 0)
from grid
left join open_incidents
    on open_incidents.snapshot_date = grid.snapshot_date
    and open_incidents.scope_type = grid.scope_type
    and open_incidents.scope_id = grid.scope_id
where grid."window" = '1d'
