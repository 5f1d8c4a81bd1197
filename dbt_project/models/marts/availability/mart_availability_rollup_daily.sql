-- Team and org availability per day: the mean of their services' availability (each service weighted
-- equally, not by downtime), with the summed downtime.

with service_days as (

    select day, team, availability_pct, downtime_s
    from {{ ref('mart_availability_daily') }}

),

teams as (

    select
        day,
        'team' as scope_type,
        team as scope_id,
        avg(availability_pct) as availability_pct,
        count(*) as service_count,
        sum(downtime_s) as downtime_s
    from service_days
    group by day, team

),

org as (

    select
        day,
        'org' as scope_type,
        'org' as scope_id,
        avg(availability_pct) as availability_pct,
        count(*) as service_count,
        sum(downtime_s) as downtime_s
    from service_days
    group by day

)

select *, {{ date_key('day') }} as date_key, {{ scope_keys('scope_type', 'scope_id', []) }}
from (select * from teams union all select * from org) as scopes
