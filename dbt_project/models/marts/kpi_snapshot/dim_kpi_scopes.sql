-- Display names of the snapshot's scopes whose ids are not readable (PagerDuty services), with their team,
-- as of the latest build. The report labels kpi_daily_snapshot rows with them; a scope without a row here is
-- shown by its id (teams, repositories, Jira projects, org).

with availability_services as (

    select service_id, service_name, team, day
    from {{ ref('mart_availability_daily') }}

),

incident_services as (

    select service_id, service_name, team, created_at
    from {{ ref('fct_incidents') }}

),

names as (

    select service_id, service_name, team, 1 as priority, cast(day as timestamp) as seen
    from availability_services
    union all
    select service_id, service_name, team, 2 as priority, cast(created_at as timestamp) as seen
    from incident_services

)

select
    'service' as scope_type,
    service_id as scope_id,
    arg_max(service_name, struct_pack(p := -priority, s := seen)) as scope_name,
    arg_max(team, struct_pack(p := -priority, s := seen)) as team
from names
group by service_id
