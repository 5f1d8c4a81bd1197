-- Downtime per service and reporting day. Each merged island is expanded only to the local days it
-- touches (no service x day x incident cross join), then intersected with that day's UTC bounds.
-- Days outside the reporting calendar (after run_date) are dropped by the join.

with islands as (

    select service_id, downtime_start_at, downtime_end_at
    from {{ ref('int_downtime_intervals_merged') }}

),

touched_days as (

    select
        service_id,
        downtime_start_at,
        downtime_end_at,
        cast(unnest(generate_series(
            {{ to_local_date('downtime_start_at') }},
            -- the end is exclusive: an island ending at local midnight does not touch the next day
            {{ to_local_date('downtime_end_at - interval 1 microsecond') }},
            interval 1 day
        )) as date) as day
    from islands

),

clipped as (

    select
        touched_days.service_id,
        touched_days.day,
        greatest(touched_days.downtime_start_at, days.day_start_at) as clipped_start_at,
        least(touched_days.downtime_end_at, days.day_end_at) as clipped_end_at
    from touched_days
    inner join {{ ref('int_reporting_days_spined') }} as days
        on touched_days.day = days.day

)

select
    service_id,
    day,
    sum({{ seconds_between('clipped_start_at', 'clipped_end_at') }}) as downtime_s,
    count(*) as island_count
from clipped
where clipped_end_at > clipped_start_at
group by service_id, day
