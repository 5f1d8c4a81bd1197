-- Union of each service's downtime intervals (gaps and islands): sort by start, carry the running
-- maximum of the ends seen so far; an interval starting after that maximum opens a new island.
-- Overlapping or touching incidents therefore count once. Islands of one service never overlap.
-- The logic lives in macros/downtime_intervals.sql (shared with the incremental mart).

with intervals as (

    select service_id, incident_id, downtime_start_at, downtime_end_at
    from {{ ref('int_incident_downtime_intervals') }}

),

islands as (

    {{ merge_downtime_intervals('intervals') }}

)

select * from islands
