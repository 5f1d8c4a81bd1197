-- The scope cells of the daily security marts (mart_security_posture_daily, mart_patch_compliance_daily): every
-- (repository, tool) whose scanner is enabled or that has alerts, as scope_type 'repo' (scope_id = repo), and their
-- roll-ups 'team' (scope_id = team, repo NULL) and 'org' (scope_id 'org', repo and team NULL). A (repository, tool)
-- whose latest coverage says not enabled and that has no alert is left out (mart_security_coverage says why).

{%- set tools = ['dependabot', 'code_scanning', 'secret_scanning'] %}

with repos as (

    select repo, coalesce(team, 'unassigned') as team from {{ ref('stg_config__repos') }}
    union
    select repo, team from {{ ref('fct_security_alerts') }}

),

not_enabled as (

    select repo, tool
    from {{ ref('mart_security_coverage') }}
    where is_latest and not enabled

),

repo_tools as (

    select repos.repo, repos.team, tools.tool
    from repos
    cross join (
        {%- for tool in tools %}
        select '{{ tool }}' as tool{{ " union all" if not loop.last }}
        {%- endfor %}
    ) as tools
    where not exists (
        select 1 from not_enabled
        where not_enabled.repo = repos.repo and not_enabled.tool = tools.tool
    )
    or exists (
        select 1 from {{ ref('fct_security_alerts') }} as alerts
        where alerts.repo = repos.repo and alerts.tool = tools.tool
    )

),

cells as (

    select 'repo' as scope_type, repo as scope_id, repo, team, tool from repo_tools
    union
    select 'team', team, null, team, tool from repo_tools
    union
    select 'org', 'org', null, null, tool from repo_tools

)

select * from cells
