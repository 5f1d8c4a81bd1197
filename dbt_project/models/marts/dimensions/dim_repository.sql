{{ config(materialized='table') }}
-- GitHub repositories: every configured repository and every repository a fact or daily mart names (so that
-- every repository_key joins), with its team (`dora.repo_teams`, else `unassigned`) and default branch (as last
-- read; NULL for a repository never read), plus the none member (-1).

{%- set named = [('int_dora_repos', 'repo'), ('fct_security_alerts', 'repo'), ('mart_security_coverage', 'repo'),
                 ('mart_security_posture_daily', 'repo'), ('mart_patch_compliance_daily', 'repo'),
                 ('fct_deployments', 'repo'), ('fct_pull_requests', 'repo')] %}
{%- set scoped = ['mart_dora_daily', 'mart_dora_tier', 'mart_dora_weekly', 'mart_dora_data_quality',
                  'mart_security_posture_daily', 'mart_patch_compliance_daily', 'mart_detection_daily',
                  'kpi_daily_snapshot'] %}

with seen as (

    {%- for model, column in named %}
    {{ 'union ' if not loop.first }}select {{ column }} as repo from {{ ref(model) }}
    {%- endfor %}
    {%- for model in scoped %}
    union select scope_id from {{ ref(model) }} where scope_type = 'repo'
    {%- endfor %}

),

branches as (

    select repo, {{ arg_max('default_branch', '_loaded_at') }} as default_branch
    from {{ ref('stg_github__repositories') }}
    group by repo

)

select
    {{ dim_key('repository', 'seen.repo') }} as repository_key,
    seen.repo,
    split_part(seen.repo, '/', 1) as owner,
    branches.default_branch,
    coalesce(configured.team, 'unassigned') as team,
    {{ dim_key('team', "coalesce(configured.team, 'unassigned')") }} as team_key
from seen
left join branches
    on seen.repo = branches.repo
left join {{ ref('stg_config__repos') }} as configured
    on seen.repo = configured.repo
where seen.repo is not null
union all
select {{ none_key() }}, null, null, null, null, {{ none_key() }}
