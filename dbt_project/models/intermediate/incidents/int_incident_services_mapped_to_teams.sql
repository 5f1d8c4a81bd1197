-- Every service incidents are reported on, with its team: the PagerDuty services of the availability
-- marts (int_services_mapped_to_teams) plus one pseudo-service per Jira project that has issues of an
-- incident type (service_id 'jira:<project key>'; none while var jira_incident_issue_types is empty).
-- A Jira pseudo-service takes its team from raw.config__services when its id is configured there,
-- else `unassigned`.

with pagerduty_services as (

    select service_id, service_name, team
    from {{ ref('int_services_mapped_to_teams') }}

),

jira_projects as (

    select
        'jira:' || coalesce(project_key, split_part(issue_key, '-', 1)) as service_id,
        {{ arg_max("coalesce(project_name, project_key, split_part(issue_key, '-', 1))", 'created_at') }} as service_name
    from {{ ref('stg_jira__issues') }}
    -- of an incident type at as_of (replayed from the changelog: fct_jira_issues)
    where issue_id in (select issue_id from {{ ref('fct_jira_issues') }} where {{ is_jira_incident_type('issue_type') }})
      and coalesce(project_key, issue_key) is not null
    group by 1

),

configured as (

    select service_id, team
    from {{ ref('stg_config__services') }}

)

select
    service_id,
    service_name,
    team,
    'pagerduty' as source
from pagerduty_services

union all

select
    jira_projects.service_id,
    jira_projects.service_name,
    coalesce(configured.team, 'unassigned') as team,
    'jira' as source
from jira_projects
left join configured
    on jira_projects.service_id = configured.service_id
