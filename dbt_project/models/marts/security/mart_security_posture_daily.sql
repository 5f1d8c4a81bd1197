{{ config(tags=['every_run']) }}
-- Security posture per day, scope, tool and severity (definitions: docs/metrics.md "Security posture").
-- Dense: every day of int_security__days x every scope cell of int_security__cells (the (repository, tool) pairs whose
-- scanner is enabled or has alerts, and their team and org roll-ups) x the four severities.
--   open, in_breach, oldest_open_age_days   alerts open at the day's end (as_of on run_date): int_security__alert_days
--   sla_compliance_pct                        100 x (open - in_breach) / open; NULL when nothing is open
--   opened                                    alerts created that day
--   fixed, dismissed                          closings that day: fixed = fixed or resolved (revoked secret);
--                                             dismissed = dismissed or auto-dismissed (not remediation)
--   withdrawn                                 Dependabot alerts GitHub withdrew that day (closed, neither fixed
--                                             nor dismissed)
--   ttr_days_mean, ttr_days_p50               time to remediate (days) of the day's fixed alerts; NULL when none

{%- set severities = ['critical', 'high', 'medium', 'low'] %}

with severities as (

    {%- for severity in severities %}
    select '{{ severity }}' as severity{{ " union all" if not loop.last }}
    {%- endfor %}

),

grid as (

    select days.day, cells.scope_type, cells.scope_id, cells.repo, cells.team, cells.tool, severities.severity
    from {{ ref('int_security__days') }} as days
    cross join {{ ref('int_security__cells') }} as cells
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
    group by day, scope_type, scope_id, tool, severity

),

created as (

    {{ security_scoped("select " ~ to_local_date('created_at') ~ " as day, repo, team, tool, severity from "
              ~ ref('fct_security_alerts') ~ " where created_at < " ~ as_of()) }}

),

opened_stats as (

    select day, scope_type, scope_id, tool, severity, count(*) as opened
    from created
    group by day, scope_type, scope_id, tool, severity

),

closings as (

    {{ security_scoped("select closed_day as day, repo, team, tool, severity, close_reason, is_remediation, "
              ~ "time_to_remediate_s from "
              ~ ref('int_security__closings')) }}

),

closing_stats as (

    select
        day, scope_type, scope_id, tool, severity,
        count(*) filter (where is_remediation) as fixed,
        count(*) filter (where not is_remediation and close_reason <> 'withdrawn') as dismissed,
        count(*) filter (where close_reason = 'withdrawn') as withdrawn,
        avg(time_to_remediate_s) / 86400.0 as ttr_days_mean,
        {{ quantile_cont('time_to_remediate_s', 0.5) }} / 86400.0 as ttr_days_p50
    from closings
    group by day, scope_type, scope_id, tool, severity

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
    coalesce(closing_stats.withdrawn, 0) as withdrawn,
    coalesce(open_stats.in_breach, 0) as in_breach,
    case when open_stats.open > 0
        then 100.0 * (open_stats.open - open_stats.in_breach) / open_stats.open end as sla_compliance_pct,
    open_stats.oldest_open_age_days,
    closing_stats.ttr_days_mean,
    closing_stats.ttr_days_p50,
    {{ date_key('grid.day') }} as date_key,
    {{ scope_keys('grid.scope_type', 'grid.scope_id', ['repository']) }}
from grid
left join open_stats
    using (day, scope_type, scope_id, tool, severity)
left join opened_stats
    using (day, scope_type, scope_id, tool, severity)
left join closing_stats
    using (day, scope_type, scope_id, tool, severity)
