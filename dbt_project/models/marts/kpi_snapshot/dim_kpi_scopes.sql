-- Every scope the snapshot and the scoped marts report on (org, team, service, repo, project), with a display
-- name, its team and the conformed keys, from the conformed dimensions (models/marts/dimensions): the report
-- labels kpi_daily_snapshot rows with it, and BI joins kpi_daily_snapshot to it on (scope_type, scope_id).

select 'org' as scope_type, 'org' as scope_id, 'Organisation' as scope_name, null as team,
       {{ none_key() }} as team_key, {{ none_key() }} as service_key, {{ none_key() }} as repository_key,
       {{ none_key() }} as jira_project_key
union all
select 'team', team, team, team, team_key, {{ none_key() }}, {{ none_key() }}, {{ none_key() }}
from {{ ref('dim_team') }}
where team is not null
union all
select 'service', service_id, service_name, team, team_key, service_key, {{ none_key() }}, {{ none_key() }}
from {{ ref('dim_service') }}
where service_id is not null
union all
select 'repo', repo, repo, team, team_key, {{ none_key() }}, repository_key, {{ none_key() }}
from {{ ref('dim_repository') }}
where repo is not null
union all
select 'project', project_key, project_name, team, team_key, {{ none_key() }}, {{ none_key() }}, jira_project_key
from {{ ref('dim_jira_project') }}
where project_key is not null
