{{ config(tags=['every_run']) }}
-- DORA per day (reporting time zone) and scope (org, team, repo), dense from the first day with a
-- deployment or a merged pull request to run_date, never before the first day whose candidate pull requests were
-- all read (the pull requests' and deployments' history window + dora.max_deploy_lag: macros/history_window.sql):
--   deployments / failed_deployments: deployments that day (deployment frequency) and those that failed;
--   change_failure_rate_pct: 100 x failed / deployments, NULL on a day without deployments;
--   lead_time_s_*: exact percentiles of the lead time of the pull requests deployed that day (NULL and
--   sample size 0 without any);
--   time_to_restore_s_p50: median time to restore of that day's failed deployments that were restored;
--   rework_deployments / deployment_rework_rate_pct: deployments that ship a revert or hotfix (fct_deployments.
--   is_rework) and 100 x rework / deployments, NULL on a day without deployments (DORA 2024 rework rate).

with deployments as (

    select
        {{ to_local_date('deployed_at') }} as day,
        repo,
        team,
        is_failed,
        is_rework,
        time_to_restore_s
    from {{ ref('fct_deployments') }}

),

pull_requests as (

    select
        {{ to_local_date('deployed_at') }} as day,
        repo,
        team,
        lead_time_s
    from {{ ref('fct_pull_requests') }}
    where deployed_at is not null

),

bounds as (

    select
        {{ reporting_first_day("least(
            coalesce((select min(day) from deployments), " ~ run_date() ~ "),
            coalesce((select min(" ~ to_local_date('merged_at') ~ ") from " ~ ref('fct_pull_requests') ~ "), "
                     ~ run_date() ~ "),
            " ~ run_date() ~ ")", [('github', 'pulls'), ('github', 'deployments')],
            complete_after_s=dora_max_deploy_lag_s()) }} as first_day,
        {{ run_date() }} as last_day

),

days as (

    {{ day_spine('first_day', 'last_day', from_clause='bounds') }}

),

scopes as (

    select distinct 'repo' as scope_type, repo as scope_id from {{ ref('int_dora_repos') }}
    union
    select distinct 'team' as scope_type, team as scope_id from {{ ref('int_dora_repos') }}
    union
    select 'org' as scope_type, 'org' as scope_id

),

scoped_deployments as (

    select day, 'repo' as scope_type, repo as scope_id, is_failed, is_rework, time_to_restore_s from deployments
    union all
    select day, 'team', team, is_failed, is_rework, time_to_restore_s from deployments
    union all
    select day, 'org', 'org', is_failed, is_rework, time_to_restore_s from deployments

),

scoped_pull_requests as (

    select day, 'repo' as scope_type, repo as scope_id, lead_time_s from pull_requests
    union all
    select day, 'team', team, lead_time_s from pull_requests
    union all
    select day, 'org', 'org', lead_time_s from pull_requests

),

deployment_stats as (

    select
        day,
        scope_type,
        scope_id,
        count(*) as deployments,
        count(*) filter (where is_failed) as failed_deployments,
        count(*) filter (where is_rework) as rework_deployments,
        {{ quantile_cont('time_to_restore_s', 0.5) }} filter (where is_failed) as time_to_restore_s_p50
    from scoped_deployments
    group by day, scope_type, scope_id

),

lead_time_stats as (

    select
        day,
        scope_type,
        scope_id,
        {{ quantile_cont('lead_time_s', 0.5) }} as lead_time_s_p50,
        {{ quantile_cont('lead_time_s', 0.75) }} as lead_time_s_p75,
        {{ quantile_cont('lead_time_s', 0.9) }} as lead_time_s_p90,
        count(*) as lead_time_sample_size
    from scoped_pull_requests
    group by day, scope_type, scope_id

)

select
    days.day,
    scopes.scope_type,
    scopes.scope_id,
    coalesce(deployment_stats.deployments, 0) as deployments,
    coalesce(deployment_stats.failed_deployments, 0) as failed_deployments,
    case
        when deployment_stats.deployments > 0
            then 100.0 * deployment_stats.failed_deployments / deployment_stats.deployments
    end as change_failure_rate_pct,
    lead_time_stats.lead_time_s_p50,
    lead_time_stats.lead_time_s_p75,
    lead_time_stats.lead_time_s_p90,
    coalesce(lead_time_stats.lead_time_sample_size, 0) as lead_time_sample_size,
    deployment_stats.time_to_restore_s_p50,
    coalesce(deployment_stats.rework_deployments, 0) as rework_deployments,
    case
        when deployment_stats.deployments > 0
            then 100.0 * deployment_stats.rework_deployments / deployment_stats.deployments
    end as deployment_rework_rate_pct,
    {{ date_key('days.day') }} as date_key,
    {{ scope_keys('scopes.scope_type', 'scopes.scope_id', ['repository']) }}
from days
cross join scopes
left join deployment_stats
    on days.day = deployment_stats.day
    and scopes.scope_type = deployment_stats.scope_type
    and scopes.scope_id = deployment_stats.scope_id
left join lead_time_stats
    on days.day = lead_time_stats.day
    and scopes.scope_type = lead_time_stats.scope_type
    and scopes.scope_id = lead_time_stats.scope_id
