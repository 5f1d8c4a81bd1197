{{ config(tags=['every_run']) }}
-- Dependabot patch-policy compliance per day, scope and severity (definitions: docs/metrics.md "Patch compliance";
-- contract kpi-definitions-wave2.md §3). Dense: every day of int_security__days x every Dependabot scope cell of
-- int_security__cells (repo, team, org) x severity critical/high/medium/low and 'all'. Withdrawn alerts are in no
-- figure after their withdrawal (open counts) and in no decision or time to patch at all.
--   met, missed, decided            decisions that came due that day (int_security__patch_alerts.decided_day);
--                                   decided = met + missed, the sample size of patch_compliance_pct
--   patch_compliance_pct            100 x met / decided (a flow: deadlines that came due); NULL when nothing was
--                                   decided
--   dismissed_before_due            alerts dismissed or auto-dismissed before their deadline that day (not judged)
--   clock_unknown                   alerts created that day that have no deadline (not judged; see the model)
--   open, past_policy, open_without_patch   alerts open at the day's end (as_of on run_date:
--                                   int_security__alert_days); past_policy: patch_due_at before then;
--                                   open_without_patch: no first_patched_version
--   time_to_patch_s_mean, _p50      fixed_at - created_at of the day's fixes, clamped at 0 (time_to_patch_clamped
--                                   counts the clamped ones); time_to_patch_sample_size fixes
--   disclosure_to_patch_s_p50       fixed_at - security_advisory.published_at of the day's fixes, published_at
--                                   clamped to created_at when later (advisory_after_alert counts them); a fix
--                                   without published_at is unknown (disclosure_to_patch_unknown), and
--                                   disclosure_to_patch_coverage_pct = 100 x known / (known + unknown)

{%- set severities = ['critical', 'high', 'medium', 'low'] %}

with severities as (

    {%- for severity in severities + ['all'] %}
    select '{{ severity }}' as severity{{ " union all" if not loop.last }}
    {%- endfor %}

),

grid as (

    select days.day, cells.scope_type, cells.scope_id, cells.repo, cells.team, severities.severity
    from {{ ref('int_security__days') }} as days
    cross join {{ ref('int_security__cells') }} as cells
    cross join severities
    where cells.tool = 'dependabot'

),

patch_alerts as (

    select * from {{ ref('int_security__patch_alerts') }}

),

decisions as (

    {{ security_scoped_all_severities("select decided_day as day, repo, team, severity, outcome from patch_alerts "
                                      ~ "where decided_at is not null and outcome <> 'withdrawn'",
                                      ['day', 'repo', 'team', 'severity', 'outcome']) }}

),

decision_stats as (

    select
        day, scope_type, scope_id, severity,
        count(*) filter (where outcome = 'met') as met,
        count(*) filter (where outcome = 'missed') as missed,
        count(*) filter (where outcome = 'dismissed_before_due') as dismissed_before_due,
        count(*) filter (where outcome = 'unknown') as clock_unknown
    from decisions
    group by day, scope_type, scope_id, severity

),

open_rows as (

    select
        open_days.day,
        open_days.repo,
        open_days.team,
        open_days.severity,
        coalesce(days.eval_at > patch_alerts.patch_due_at, false) as is_past_policy,
        patch_alerts.first_patched_version is null as is_without_patch
    from {{ ref('int_security__alert_days') }} as open_days
    inner join {{ ref('int_security__days') }} as days
        on open_days.day = days.day
    inner join patch_alerts
        on open_days.alert_key = patch_alerts.alert_key
    where open_days.tool = 'dependabot'

),

open_alerts as (

    {{ security_scoped_all_severities("select * from open_rows",
                                      ['day', 'repo', 'team', 'severity', 'is_past_policy', 'is_without_patch']) }}

),

open_stats as (

    select
        day, scope_type, scope_id, severity,
        count(*) as open,
        count(*) filter (where is_past_policy) as past_policy,
        count(*) filter (where is_without_patch) as open_without_patch
    from open_alerts
    group by day, scope_type, scope_id, severity

),

fixes as (

    {{ security_scoped_all_severities("select closed_day as day, repo, team, severity, time_to_patch_s, is_clamped, "
                                      ~ "disclosure_to_patch_s, is_advisory_after_alert from "
                                      ~ ref('int_security__patch_fixes'),
                                      ['day', 'repo', 'team', 'severity', 'time_to_patch_s', 'is_clamped',
                                       'disclosure_to_patch_s', 'is_advisory_after_alert']) }}

),

fix_stats as (

    select
        day, scope_type, scope_id, severity,
        avg(time_to_patch_s) as time_to_patch_s_mean,
        {{ quantile_cont('time_to_patch_s', 0.5) }} as time_to_patch_s_p50,
        count(*) as time_to_patch_sample_size,
        count(*) filter (where is_clamped) as time_to_patch_clamped,
        {{ quantile_cont('disclosure_to_patch_s', 0.5) }} as disclosure_to_patch_s_p50,
        count(disclosure_to_patch_s) as disclosure_to_patch_sample_size,
        count(*) filter (where disclosure_to_patch_s is null) as disclosure_to_patch_unknown,
        count(*) filter (where is_advisory_after_alert) as advisory_after_alert
    from fixes
    group by day, scope_type, scope_id, severity

)

select
    grid.day,
    grid.scope_type,
    grid.scope_id,
    grid.repo,
    grid.team,
    grid.severity,
    coalesce(decision_stats.met, 0) as met,
    coalesce(decision_stats.missed, 0) as missed,
    coalesce(decision_stats.met, 0) + coalesce(decision_stats.missed, 0) as decided,
    case when decision_stats.met + decision_stats.missed > 0
        then 100.0 * decision_stats.met / (decision_stats.met + decision_stats.missed) end as patch_compliance_pct,
    coalesce(decision_stats.dismissed_before_due, 0) as dismissed_before_due,
    coalesce(decision_stats.clock_unknown, 0) as clock_unknown,
    coalesce(open_stats.open, 0) as open,
    coalesce(open_stats.past_policy, 0) as past_policy,
    coalesce(open_stats.open_without_patch, 0) as open_without_patch,
    fix_stats.time_to_patch_s_mean,
    fix_stats.time_to_patch_s_p50,
    coalesce(fix_stats.time_to_patch_sample_size, 0) as time_to_patch_sample_size,
    coalesce(fix_stats.time_to_patch_clamped, 0) as time_to_patch_clamped,
    fix_stats.disclosure_to_patch_s_p50,
    coalesce(fix_stats.disclosure_to_patch_sample_size, 0) as disclosure_to_patch_sample_size,
    coalesce(fix_stats.disclosure_to_patch_unknown, 0) as disclosure_to_patch_unknown,
    case when fix_stats.time_to_patch_sample_size > 0
        then 100.0 * fix_stats.disclosure_to_patch_sample_size / fix_stats.time_to_patch_sample_size
    end as disclosure_to_patch_coverage_pct,
    coalesce(fix_stats.advisory_after_alert, 0) as advisory_after_alert,
    {{ date_key('grid.day') }} as date_key,
    {{ scope_keys('grid.scope_type', 'grid.scope_id', ['repository']) }}
from grid
left join decision_stats
    using (day, scope_type, scope_id, severity)
left join open_stats
    using (day, scope_type, scope_id, severity)
left join fix_stats
    using (day, scope_type, scope_id, severity)
