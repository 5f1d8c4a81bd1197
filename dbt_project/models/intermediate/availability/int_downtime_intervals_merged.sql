-- Union of each service's downtime intervals (gaps and islands): sort by start, carry the running
-- maximum of the ends seen so far; an interval starting after that maximum opens a new island.
-- Overlapping or touching incidents therefore count once. Islands of one service never overlap.

with intervals as (

    select service_id, incident_id, downtime_start_at, downtime_end_at
    from {{ ref('int_incident_downtime_intervals') }}

),

with_running_end as (

    select
        *,
        max(downtime_end_at) over (
            partition by service_id
            order by downtime_start_at, downtime_end_at, incident_id
            rows between unbounded preceding and 1 preceding
        ) as previous_max_end_at
    from intervals

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
