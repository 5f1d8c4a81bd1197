{{ config(tags=['every_run']) }}
-- Security posture per day, scope, tool and severity (definitions: docs/metrics.md "Security posture").
-- Dense: every day of int_security__days x every (repository, tool) whose scanner is enabled or has alerts x the
-- four severities, plus roll-ups: scope_type 'repo' (scope_id = repo), 'team' (scope_id = team, repo NULL) and
-- 'org' (scope_id 'org', repo and team NULL). A (repository, tool) whose latest coverage says not enabled and that
-- has no alert is left out (mart_security_coverage says why).
--   open, in_breach, oldest_open_age_days   alerts open at the day's end (as_of on run_date): int_security__alert_days
--   sla_compliance_pct                        100 x (open - in_breach) / open; NULL when nothing is open
--   opened                                    alerts created that day
--   fixed, dismissed                          closings that day: fixed = fixed or resolved (revoked secret);
--                                             dismissed = dismissed or auto-dismissed (not remediation)
--   ttr_days_mean, ttr_days_p50               time to remediate (days) of the day's fixed alerts; NULL when none

{%- set severities = ['critical', 'high', 'medium', 'low'] %}
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

severities as (

    {%- for severity in severities %}
    select '{{ severity }}' as severity{{ " union all" if not loop.last }}
    {%- endfor %}

),

cells as (

    select 'repo' as scope_type, repo as scope_id, repo, team, tool from repo_tools
    union
    select 'team', team, null, team, tool from repo_tools
    union
    select 'org', 'org', null, null, tool from repo_tools

),

grid as (

    select days.day, cells.scope_type, cells.scope_id, cells.repo, cells.team, cells.tool, severities.severity
    from {{ ref('int_security__days') }} as days
    cross join cells
    cross join severities

),

open_alerts as (

    {{ security_scoped("select day, repo, team, tool, severity, in_breach, age_days from " ~ ref('int_security__alert_days')) }}

),

open_stats as (

    select
        day, scope_type, scope_id, tool, severity,
        count(*) as open,
        count(*) filter (where in_breach) as in_breach,
        max(age_days) as oldest_open_age_days
    from open_alerts
    group by all

),

created as (

    {{ security_scoped("select " ~ to_local_date('created_at') ~ " as day, repo, team, tool, severity from "
              ~ ref('fct_security_alerts') ~ " where created_at < " ~ as_of()) }}

),

opened_stats as (

    select day, scope_type, scope_id, tool, severity, count(*) as opened
    from created
    group by all

),

closings as (

    {{ security_scoped("select closed_day as day, repo, team, tool, severity, is_remediation, time_to_remediate_s from "
              ~ ref('int_security__closings')) }}

),

closing_stats as (

    select
        day, scope_type, scope_id, tool, severity,
        count(*) filter (where is_remediation) as fixed,
        count(*) filter (where not is_remediation) as dismissed,
        avg(time_to_remediate_s) / 86400.0 as ttr_days_mean,
        quantile_cont(time_to_remediate_s, 0.5) / 86400.0 as ttr_days_p50
    from closings
    group by all

)

select
    grid.day,
    grid.scope_type,
    grid.scope_id,
    grid.repo,
    grid.team,
    grid.tool,
    grid.severity,
    coalesce(open_stats.open, 0) as open,
    coalesce(opened_stats.opened, 0) as opened,
    coalesce(closing_stats.fixed, 0) as fixed,
    coalesce(closing_stats.dismissed, 0) as dismissed,
    coalesce(open_stats.in_breach, 0) as in_breach,
    case when open_stats.open > 0
        then 100.0 * (open_stats.open - open_stats.in_breach) / open_stats.open end as sla_compliance_pct,
    open_stats.oldest_open_age_days,
    closing_stats.ttr_days_mean,
    closing_stats.ttr_days_p50
from grid
left join open_stats
    using (day, scope_type, scope_id, tool, severity)
left join opened_stats
    using (day, scope_type, scope_id, tool, severity)
left join closing_stats
    using (day, scope_type, scope_id, tool, severity)
