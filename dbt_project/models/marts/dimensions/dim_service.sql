{{ config(materialized='table') }}
-- Services incidents are counted for: PagerDuty services (with their name as last read) and the Jira projects
-- whose issues are incidents (`jira:<project>`, `incidents.jira_issue_types`), each with its team, plus every
-- service a fact or daily mart names (so that every service_key joins), plus the none member (-1).

{%- set scoped = ['mart_incident_response_daily', 'mart_downtime_cost_daily', 'mart_security_incidents_daily',
                  'mart_detection_daily', 'kpi_daily_snapshot'] %}

with known as (

    select service_id, service_name, team, source, 1 as priority
    from {{ ref('int_incident_services_mapped_to_teams') }}

),

seen as (

    select service_id, service_name, team, source, 2 as priority from {{ ref('fct_incidents') }}
    union all
    select service_id, service_name, team, source, 3 from {{ ref('fct_security_incidents') }}
    union all
    select service_id, service_name, team, 'pagerduty', 4 from {{ ref('mart_availability_daily') }}
    {%- for model in scoped %}
    union all
    select scope_id, null, null, null, 9 from {{ ref(model) }} where scope_type = 'service'
    {%- endfor %}

),

services as (

    select
        service_id,
        {{ arg_min('service_name', 'priority', where='service_name is not null') }} as service_name,
        {{ arg_min('team', 'priority', where='team is not null') }} as team,
        {{ arg_min('source', 'priority', where='source is not null') }} as source
    from (select * from known union all select * from seen) as services
    where service_id is not null
    group by service_id

)

select
    {{ dim_key('service', 'service_id') }} as service_key,
    service_id,
    coalesce(service_name, service_id) as service_name,
    coalesce(source, case when service_id like 'jira:%' then 'jira' else 'pagerduty' end) as source,
    coalesce(team, 'unassigned') as team,
    {{ dim_key('team', "coalesce(team, 'unassigned')") }} as team_key
from services
union all
select {{ none_key() }}, null, 'none', null, null, {{ none_key() }}
