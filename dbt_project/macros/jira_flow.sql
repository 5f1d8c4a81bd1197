{#- Jira flow helpers (docs/metrics.md "Jira flow"). -#}

{#- Var `jira_bug_issue_types` (default [Bug]) as a lower-cased VARCHAR[] literal. -#}
{% macro jira_bug_issue_types() -%}
    {{ lowercase_list_literal('jira_bug_issue_types', ['Bug']) }}
{%- endmacro %}


{#- SQL predicate (never NULL): the issue type name is one of var `jira_bug_issue_types` (case-insensitive). -#}
{% macro is_jira_bug_type(issue_type_expr) -%}
    coalesce({{ array_has(jira_bug_issue_types(), "lower(" ~ issue_type_expr ~ ")") }}, false)
{%- endmacro %}


{#- The CTEs `projects` (project, team: those of the issues, and every project read from Jira with its team),
    `scope_members` (scope_type project / team / org, scope_id, project), `scopes` (every scope, the org always) and
    `bounds` (first_day: the local day of the first issue created, within the history window; last_day: run_date)
    of a Jira daily mart. `issues` names a CTE of the model with the columns project, team and created_at. -#}
{% macro jira_project_scope_ctes(issues) -%}
projects as (

    select project, team from {{ issues }}
    union
    -- configured projects without issues are reported too
    select
        projects.project_key as project,
        coalesce(project_teams.team, 'unassigned') as team
    from {{ ref('stg_jira__projects') }} as projects
    left join {{ ref('stg_jira__project_teams') }} as project_teams
        on projects.project_key = project_teams.project_key
    where projects.project_key is not null

),

scope_members as (

    select 'project' as scope_type, project as scope_id, project from projects
    union all
    select 'team' as scope_type, team as scope_id, project from projects
    union all
    select 'org' as scope_type, 'org' as scope_id, project from projects

),

scopes as (

    select scope_type, scope_id from scope_members
    union
    select 'org' as scope_type, 'org' as scope_id

),

bounds as (

    select
        {{ reporting_first_day('min(' ~ to_local_date('created_at') ~ ')', [('jira', 'issues')]) }} as first_day,
        {{ run_date() }} as last_day
    from {{ issues }}

)
{%- endmacro %}
