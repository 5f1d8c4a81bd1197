-- Islands of one service must be disjoint and in order; otherwise downtime would be double counted.
with ordered as (

    select
        service_id,
        island_number,
        downtime_start_at,
        lag(downtime_end_at) over (partition by service_id order by island_number) as previous_end_at
    from {{ ref('int_downtime_intervals_merged') }}

)

select *
from ordered
where previous_end_at is not null
  and downtime_start_at <= previous_end_at
