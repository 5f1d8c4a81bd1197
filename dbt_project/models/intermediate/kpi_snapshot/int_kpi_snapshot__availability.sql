{{ config(tags=['kpi_snapshot_area']) }}
-- KPI area "availability" of the nightly snapshot, from mart_availability_daily (definitions: docs/metrics.md).
--   availability              service: 100 x (1 - downtime / time) over the window's days (time = their real
--                             length); team / org: the mean of their services' window availability (each
--                             service weighted equally, as mart_availability_rollup_daily). sample_size =
--                             service-days behind the value (fewer at the start of the data).
--   error_budget_remaining    service, window 30d only (the budget's rolling window): the mart's
--                             error_budget_remaining_pct of the snapshot date; sample_size = days in the window.
--   availability_slo_target   service, window 30d: the SLO the service is held to (configuration, so
--                             sample_size is NULL); the report draws availability against it.

with windows as (

    select snapshot_date, "window", window_start_day
    from {{ ref('int_kpi_snapshot_windows') }}

),

service_days as (

    select day, service_id, team, day_length_s, downtime_s, slo_target_pct, error_budget_remaining_pct
    from {{ ref('mart_availability_daily') }}

),

service_windows as (

    select
        windows.snapshot_date,
        windows."window",
        service_days.service_id,
        {{ first_ordered('service_days.team', 'service_days.day desc') }} as team,
        sum(service_days.downtime_s) as downtime_s,
        sum(service_days.day_length_s) as length_s,
        count(*) as days
    from windows
    inner join service_days
        on service_days.day between windows.window_start_day and windows.snapshot_date
    group by 1, 2, 3

),

service_availability as (

    select
        snapshot_date,
        "window",
        service_id,
        team,
        100.0 * (1 - downtime_s / length_s) as availability_pct,
        days
    from service_windows

),

availability as (

    select snapshot_date, 'service' as scope_type, service_id as scope_id, "window",
           availability_pct as value, days as sample_size
    from service_availability

    union all

    select snapshot_date, 'team', team, "window", avg(availability_pct), sum(days)
    from service_availability
    group by snapshot_date, team, "window"

    union all

    select snapshot_date, 'org', 'org', "window", avg(availability_pct), sum(days)
    from service_availability
    group by snapshot_date, "window"

),

budget as (

    select
        service_windows.snapshot_date,
        service_windows.service_id,
        service_days.error_budget_remaining_pct,
        service_days.slo_target_pct,
        service_windows.days
    from service_windows
    inner join service_days
        on service_days.service_id = service_windows.service_id
        and service_days.day = service_windows.snapshot_date
    where service_windows."window" = '30d'

)

select snapshot_date, 'availability' as kpi, scope_type, scope_id, "window", value, 'pct' as unit, sample_size
from availability

union all

select snapshot_date, 'error_budget_remaining', 'service', service_id, '30d', error_budget_remaining_pct, 'pct', days
from budget

union all

select snapshot_date, 'availability_slo_target', 'service', service_id, '30d', slo_target_pct, 'pct', null
from budget
