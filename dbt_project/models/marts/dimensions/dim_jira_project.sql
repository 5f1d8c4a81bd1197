{{ config(materialized='table') }}
-- Jira projects: every project read from Jira and every project a fact or daily mart names (so that every
-- jira_project_key joins), with its name (as last read) and team (the projects' team mapping, else
-- `unassigned`), plus the none member (-1).

with seen as (

    select project_key from {{ ref('stg_jira__projects') }}
    union
    select project_key from {{ ref('stg_jira__project_teams') }}
    union
    select project from {{ ref('fct_jira_issues') }}
    union
    select scope_id from {{ ref('mart_jira_flow_daily') }} where scope_type = 'project'
    union
    select project from {{ ref('fct_issue_delivery') }}
    union
    select scope_id from {{ ref('mart_e2e_lead_time_daily') }} where scope_type = 'project'
    union
    select scope_id from {{ ref('kpi_daily_snapshot') }} where scope_type = 'project'

),

names as (

    select project_key, {{ arg_max('project_name', '_loaded_at') }} as project_name
    from {{ ref('stg_jira__projects') }}
    group by project_key

)

select
    {{ dim_key('jira_project', 'seen.project_key') }} as jira_project_key,
    seen.project_key,
    coalesce(names.project_name, seen.project_key) as project_name,
    coalesce(teams.team, 'unassigned') as team,
    {{ dim_key('team', "coalesce(teams.team, 'unassigned')") }} as team_key
from seen
left join names
    on seen.project_key = names.project_key
left join {{ ref('stg_jira__project_teams') }} as teams
    on seen.project_key = teams.project_key
where seen.project_key is not null
union all
select {{ none_key() }}, null, 'none', null, {{ none_key() }}
