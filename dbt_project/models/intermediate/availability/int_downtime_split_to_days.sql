-- Downtime per service and reporting day. Each merged island is expanded only to the local days it
-- touches (no service x day x incident cross join), then intersected with that day's UTC bounds.
-- Days outside the reporting calendar (after run_date) are dropped by the join.
-- The logic lives in macros/downtime_intervals.sql (shared with the incremental mart).

with islands as (

    select service_id, downtime_start_at, downtime_end_at
    from {{ ref('int_downtime_intervals_merged') }}

),

days as (

    select day, day_start_at, day_end_at
    from {{ ref('int_reporting_days_spined') }}

),

per_day as (

    {{ split_downtime_islands_to_days('islands', 'days') }}

)

select * from per_day
