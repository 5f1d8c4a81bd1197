{{ config(tags=['kpi_snapshot_area']) }}
-- KPI area "security" (security incidents) of the nightly snapshot (definitions: docs/metrics.md "Security
-- incidents"), dense over the scopes of mart_security_incidents_daily; no rows while no rule is configured.
--   security_incidents             count created in the window (local days); sample_size = the count
--   security_mttr_mean, _p50       TTR (s) of those resolved in the window (by their last resolution), pooled per
--                                  team and org, exact; NULL with sample_size 0 when none
--   security_incidents_open        window 1d: open at the end of the day (by as_of on run_date)

with windows as (

    select snapshot_date, "window", window_start_day
    from {{ ref('int_kpi_snapshot_windows') }}

),

daily as (

    select day, scope_type, scope_id, security_incidents_created, security_incidents_open
    from {{ ref('mart_security_incidents_daily') }}

),

resolved as (

    select
        service_id,
        team,
        {{ to_local_date('resolved_at') }} as resolved_day,
        ttr_s,
        {{ epoch_us('resolved_at') }} - {{ epoch_us('created_at') }} as ttr_us
    from {{ ref('fct_security_incidents') }}
    where resolved_at is not null

),

scoped_resolved as (

    {{ rows_per_scope('select * from resolved', [('service', 'service_id'), ('team', 'team'), ('org', "'org'")]) }}

),

ttr as (

    {{ window_stats('windows', 'scoped_resolved', 'resolved_day',
                    [('mean_s', 'sum(facts.ttr_us) / (count(*) * 1000000.0)'), ('p50_s', percentile('facts.ttr_s', 0.5))]) }}

),

created as (

    -- the mart is dense, so every scope has its window's days (a count of 0 when nothing was created)
    select
        windows.snapshot_date,
        windows."window",
        daily.scope_type,
        daily.scope_id,
        sum(daily.security_incidents_created) as created_count
    from windows
    inner join daily
        on daily.day between windows.window_start_day and windows.snapshot_date
    group by 1, 2, 3, 4

),

figures as (

    select
        created.*,
        ttr.mean_s as mttr_mean,
        ttr.p50_s as mttr_p50,
        coalesce(ttr.sample_size, 0) as mttr_sample_size
    from created
    left join ttr
        on ttr.snapshot_date = created.snapshot_date
        and ttr."window" = created."window"
        and ttr.scope_type = created.scope_type
        and ttr.scope_id = created.scope_id

)

select snapshot_date, 'security_incidents' as kpi, scope_type, scope_id, "window", created_count as value,
       'count' as unit, created_count as sample_size
from figures
union all
select snapshot_date, 'security_mttr_mean', scope_type, scope_id, "window", mttr_mean, 's', mttr_sample_size
from figures
union all
select snapshot_date, 'security_mttr_p50', scope_type, scope_id, "window", mttr_p50, 's', mttr_sample_size
from figures
union all
select day, 'security_incidents_open', scope_type, scope_id, '1d', security_incidents_open, 'count',
       security_incidents_open
from daily
