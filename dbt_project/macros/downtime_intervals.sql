{#-
    The interval arithmetic behind availability, as macros so that the intermediate views and the
    incremental mart (which runs it on a recent slice only) share one implementation.
-#}

{#-
    Union of each service's downtime intervals (gaps and islands). `intervals` is a relation or CTE name
    with service_id, incident_id, downtime_start_at, downtime_end_at. Sort by start, carry the running
    maximum of the ends seen so far; an interval starting after that maximum opens a new island, so
    overlapping or touching incidents count once and the islands of one service never overlap.
    Restricting the input to intervals that end after an instant T leaves the union after T unchanged.
-#}
{% macro merge_downtime_intervals(intervals) -%}
    with with_running_end as (

        select
            service_id,
            incident_id,
            downtime_start_at,
            downtime_end_at,
            max(downtime_end_at) over (
                partition by service_id
                order by downtime_start_at, downtime_end_at, incident_id
                rows between unbounded preceding and 1 preceding
            ) as previous_max_end_at
        from {{ intervals }}

    ),

    flagged as (

        select
            *,
            case
                when previous_max_end_at is null or downtime_start_at > previous_max_end_at then 1 else 0
            end as starts_island
        from with_running_end

    ),

    numbered as (

        select
            *,
            sum(starts_island) over (
                partition by service_id
                order by downtime_start_at, downtime_end_at, incident_id
                rows between unbounded preceding and current row
            ) as island_number
        from flagged

    ),

    islands as (

        select
            service_id,
            island_number,
            min(downtime_start_at) as downtime_start_at,
            max(downtime_end_at) as downtime_end_at,
            count(*) as incident_count
        from numbered
        group by service_id, island_number

    )

    select
        service_id,
        island_number,
        downtime_start_at,
        downtime_end_at,
        incident_count,
        {{ seconds_between('downtime_start_at', 'downtime_end_at') }} as downtime_s
    from islands
{%- endmacro %}


{#-
    Downtime per service and reporting day. `islands` has service_id, downtime_start_at, downtime_end_at
    (disjoint per service); `days` has day, day_start_at, day_end_at. Each island is expanded only to the
    local days it touches, then intersected with that day's UTC bounds; days missing from `days` are
    dropped by the join. Sums are taken in integer microseconds (exact, independent of summation order).
-#}
{% macro split_downtime_islands_to_days(islands, days) -%}
    with touched_days as (

        select
            service_id,
            downtime_start_at,
            downtime_end_at,
            -- the end is exclusive: an island ending at local midnight does not touch the next day
            cast({{ date_series(to_local_date('downtime_start_at'),
                                to_local_date("downtime_end_at - interval '1 microsecond'")) }} as date) as day
        from {{ islands }}

    ),

    clipped as (

        select
            touched_days.service_id,
            touched_days.day,
            greatest(touched_days.downtime_start_at, split_days.day_start_at) as clipped_start_at,
            least(touched_days.downtime_end_at, split_days.day_end_at) as clipped_end_at
        from touched_days
        inner join {{ days }} as split_days
            on touched_days.day = split_days.day

    ),

    summed as (

        select
            service_id,
            day,
            sum({{ epoch_us('clipped_end_at') }} - {{ epoch_us('clipped_start_at') }}) as downtime_us,
            count(*) as island_count
        from clipped
        where clipped_end_at > clipped_start_at
        group by service_id, day

    )

    select
        service_id,
        day,
        cast(downtime_us as bigint) as downtime_us,
        downtime_us / 1000000.0 as downtime_s,
        island_count
    from summed
{%- endmacro %}
