{{ config(tags=['kpi_snapshot_area']) }}
-- KPI area "availability" (downtime cost) of the nightly snapshot, from mart_downtime_cost_daily (definitions:
-- docs/metrics.md "Downtime cost"), every scope (service, team, org) x window x date:
--   downtime_cost, revenue_at_risk   unit money (var business_impact_currency): the sum over the window's days;
--                                    NULL when no service of the scope has that price; sample_size = the scope's
--                                    priced services (prices carry no dates, so it is the same on every day)
--   downtime_cost_coverage           unit pct: 100 x priced downtime / all downtime over the window's days (how
--                                    much of the downtime the cost stands for); NULL without downtime;
--                                    sample_size = the scope's services
-- No rows while no service has a price (the area is off, as DORA without repositories).

with windows as (

    select snapshot_date, "window", window_start_day
    from {{ ref('int_kpi_snapshot_windows') }}

),

daily as (

    select day, scope_type, scope_id, downtime_cost, revenue_at_risk, priced_service_count, service_count,
           downtime_s, priced_downtime_s
    from {{ ref('mart_downtime_cost_daily') }}

),

summed as (

    select
        windows.snapshot_date,
        windows."window",
        daily.scope_type,
        daily.scope_id,
        sum(daily.downtime_cost) as downtime_cost,
        sum(daily.revenue_at_risk) as revenue_at_risk,
        max(daily.priced_service_count) as priced_service_count,
        max(daily.service_count) as service_count,
        100.0 * sum(daily.priced_downtime_s) / nullif(sum(daily.downtime_s), 0) as downtime_cost_coverage
    from windows
    inner join daily
        on daily.day between windows.window_start_day and windows.snapshot_date
    where exists (select 1 from {{ ref('stg_config__service_prices') }})
    group by 1, 2, 3, 4

)

select snapshot_date, 'downtime_cost' as kpi, scope_type, scope_id, "window", downtime_cost as value,
       'money' as unit, priced_service_count as sample_size
from summed
union all
select snapshot_date, 'revenue_at_risk', scope_type, scope_id, "window", revenue_at_risk, 'money',
       priced_service_count
from summed
union all
select snapshot_date, 'downtime_cost_coverage', scope_type, scope_id, "window", downtime_cost_coverage, 'pct',
       service_count
from summed
