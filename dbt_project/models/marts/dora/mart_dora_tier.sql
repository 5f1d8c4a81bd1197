-- Each DORA metric over the rolling 30 days ending on each day (that day and the 29 before it), per
-- team and for the org, classified by the thresholds of seed dora_tier_thresholds for var
-- dora_benchmark_year (2023 by default):
--   deployment_frequency: deployments per day (deployments in the 30 days / 30);
--   lead_time:            median lead time (s) of the pull requests deployed in the 30 days;
--   change_failure_rate:  100 x failed / deployments in the 30 days (%);
--   time_to_restore:      median time to restore (s) of the failed deployments in the 30 days.
-- A metric without data in the window (no deployment, no restored failure) has NULL value and tier.
-- sample_complete is false while the 30 days reach before the first DORA day (a fresh install's first 29 days).

with days as (

    select distinct day from {{ ref('mart_dora_daily') }}

),

scopes as (

    select distinct 'team' as scope_type, team as scope_id from {{ ref('int_dora_repos') }}
    union
    select 'org' as scope_type, 'org' as scope_id

),

deployments as (

    select {{ to_local_date('deployed_at') }} as day, 'team' as scope_type, team as scope_id, is_failed,
           time_to_restore_s
    from {{ ref('fct_deployments') }}
    union all
    select {{ to_local_date('deployed_at') }}, 'org', 'org', is_failed, time_to_restore_s
    from {{ ref('fct_deployments') }}

),

pull_requests as (

    select {{ to_local_date('deployed_at') }} as day, 'team' as scope_type, team as scope_id, lead_time_s
    from {{ ref('fct_pull_requests') }}
    where deployed_at is not null
    union all
    select {{ to_local_date('deployed_at') }}, 'org', 'org', lead_time_s
    from {{ ref('fct_pull_requests') }}
    where deployed_at is not null

),

grid as (

    select days.day, scopes.scope_type, scopes.scope_id
    from days
    cross join scopes

),

deployment_windows as (

    select
        grid.day,
        grid.scope_type,
        grid.scope_id,
        count(deployments.day) as deployments,
        count(deployments.day) filter (where deployments.is_failed) as failed_deployments,
        {{ quantile_cont('deployments.time_to_restore_s', 0.5) }} filter (where deployments.is_failed) as ttr_p50
    from grid
    left join deployments
        on grid.scope_type = deployments.scope_type
        and grid.scope_id = deployments.scope_id
        and deployments.day between grid.day - 29 and grid.day
    group by grid.day, grid.scope_type, grid.scope_id

),

lead_time_windows as (

    select
        grid.day,
        grid.scope_type,
        grid.scope_id,
        {{ quantile_cont('pull_requests.lead_time_s', 0.5) }} as lead_time_p50
    from grid
    left join pull_requests
        on grid.scope_type = pull_requests.scope_type
        and grid.scope_id = pull_requests.scope_id
        and pull_requests.day between grid.day - 29 and grid.day
    group by grid.day, grid.scope_type, grid.scope_id

),

metrics as (

    select d.day, d.scope_type, d.scope_id, m.metric, m.value
    from deployment_windows as d
    inner join lead_time_windows as l
        on d.day = l.day and d.scope_type = l.scope_type and d.scope_id = l.scope_id
    cross join lateral (
        values
            ('deployment_frequency', d.deployments / 30.0),
            ('lead_time', l.lead_time_p50),
            ('change_failure_rate',
             case when d.deployments > 0 then 100.0 * d.failed_deployments / d.deployments end),
            ('time_to_restore', d.ttr_p50)
    ) as m(metric, value)

),

thresholds as (

    select metric, tier, tier_rank, comparison, threshold, benchmark_year
    from {{ ref('dora_tier_thresholds') }}
    where benchmark_year = {{ dora_benchmark_year() }}

)

-- the best tier met per metric (DISTINCT ON: QUALIFY is DuckDB's only)
select distinct on (metrics.day, metrics.scope_type, metrics.scope_id, metrics.metric)
    metrics.day,
    metrics.scope_type,
    metrics.scope_id,
    metrics.metric,
    metrics.value,
    thresholds.tier,
    {{ dora_benchmark_year() }} as benchmark_year,
    -- the 30 days lie inside mart_dora_daily's grid (false: provisional, the window reaches before the data)
    {{ window_sample_complete('metrics.day', 30, ref('mart_dora_daily')) }} as sample_complete,
    {{ date_key('metrics.day') }} as date_key,
    {{ scope_keys('metrics.scope_type', 'metrics.scope_id', ['repository']) }}
from metrics
left join thresholds
    on metrics.metric = thresholds.metric
    and metrics.value is not null
    and {{ dora_meets_threshold('metrics.value', 'thresholds.comparison', 'thresholds.threshold') }}
order by metrics.day, metrics.scope_type, metrics.scope_id, metrics.metric, thresholds.tier_rank nulls last
