{{ config(tags=['kpi_snapshot_area']) }}
-- KPI area "dora" of the nightly snapshot (definitions: docs/metrics.md "DORA"). Scopes org / team / repo
-- (those of mart_dora_daily) x windows 1d / 7d / 30d x every date whose window overlaps the mart's days.
-- Counts come from mart_dora_daily (additive); percentiles are recomputed over the facts in the window
-- (exact quantile_cont over fct_pull_requests / fct_deployments), never averaged from daily percentiles.
--   deployment_frequency   deployments in the window / window days (per_day); sample_size = deployments
--   change_failure_rate    100 x failed / deployments in the window (pct); NULL with 0 deployments;
--                          sample_size = deployments
--   deployment_rework_rate 100 x rework / deployments in the window (pct; DORA 2024); NULL with 0 deployments;
--                          sample_size = deployments
--   lead_time_p50          median lead time (s) of the pull requests deployed in the window (local day of
--                          deployed_at); sample_size = those pull requests
--   time_to_restore_p50    median time to restore (s) of the failed deployments of the window with a
--                          restored incident; sample_size = those deployments
--   dora_tier_*            window 30d, scopes team and org: mart_dora_tier's tier of the date as its rank
--                          (1 Elite, 2 High, 3 Medium, 4 Low; unit tier; the report maps rank -> word);
--                          NULL when the metric has no data. sample_size = the 30d sample of the metric.
-- Empty samples give NULL with sample_size 0. For window 1d the values equal mart_dora_daily's (tested).

with windows as (

    select snapshot_date, "window", window_days, window_start_day
    from {{ ref('int_kpi_snapshot_windows') }}

),

daily as (

    select day, scope_type, scope_id, deployments, failed_deployments, rework_deployments
    from {{ ref('mart_dora_daily') }}
    -- without any repository (GitHub not set up) the mart still has an empty org row per day: emit nothing
    -- then, so the report keeps the DORA area hidden instead of showing 0 deployments
    where exists (select 1 from {{ ref('mart_dora_daily') }} where scope_type = 'repo')

),

pull_requests as (

    select {{ to_local_date('deployed_at') }} as day, repo, team, lead_time_s
    from {{ ref('fct_pull_requests') }}
    where deployed_at is not null

),

restored_deployments as (

    select {{ to_local_date('deployed_at') }} as day, repo, team, time_to_restore_s
    from {{ ref('fct_deployments') }}
    where is_failed and time_to_restore_s is not null

),

scoped_pull_requests as (

    {{ rows_per_scope('select day, repo, team, lead_time_s from pull_requests', dora_scopes()) }}

),

scoped_restores as (

    {{ rows_per_scope('select day, repo, team, time_to_restore_s from restored_deployments', dora_scopes()) }}

),

-- the grid: every scope and window that overlaps the mart's days (the mart is dense per scope and day)
deployment_windows as (

    select
        windows.snapshot_date,
        windows."window",
        windows.window_days,
        windows.window_start_day,
        daily.scope_type,
        daily.scope_id,
        sum(daily.deployments) as deployments,
        sum(daily.failed_deployments) as failed_deployments,
        sum(daily.rework_deployments) as rework_deployments
    from windows
    inner join daily
        on daily.day between windows.window_start_day and windows.snapshot_date
    group by 1, 2, 3, 4, 5, 6

),

lead_time_windows as (

    {{ window_stats('windows', 'scoped_pull_requests', 'day', [('p50_s', percentile('facts.lead_time_s', 0.5))]) }}

),

restore_windows as (

    {{ window_stats('windows', 'scoped_restores', 'day', [('p50_s', percentile('facts.time_to_restore_s', 0.5))]) }}

),

metrics as (

    select
        deployment_windows.snapshot_date,
        deployment_windows."window",
        deployment_windows.scope_type,
        deployment_windows.scope_id,
        deployment_windows.deployments / deployment_windows.window_days as deployment_frequency,
        case
            when deployment_windows.deployments > 0
                then 100.0 * deployment_windows.failed_deployments / deployment_windows.deployments
        end as change_failure_rate,
        case
            when deployment_windows.deployments > 0
                then 100.0 * deployment_windows.rework_deployments / deployment_windows.deployments
        end as deployment_rework_rate,
        deployment_windows.deployments,
        lead_time_windows.p50_s as lead_time_p50,
        coalesce(lead_time_windows.sample_size, 0) as lead_time_sample_size,
        restore_windows.p50_s as time_to_restore_p50,
        coalesce(restore_windows.sample_size, 0) as restore_sample_size
    from deployment_windows
    left join lead_time_windows
        on lead_time_windows.snapshot_date = deployment_windows.snapshot_date
        and lead_time_windows."window" = deployment_windows."window"
        and lead_time_windows.scope_type = deployment_windows.scope_type
        and lead_time_windows.scope_id = deployment_windows.scope_id
    left join restore_windows
        on restore_windows.snapshot_date = deployment_windows.snapshot_date
        and restore_windows."window" = deployment_windows."window"
        and restore_windows.scope_type = deployment_windows.scope_type
        and restore_windows.scope_id = deployment_windows.scope_id

),

tier_ranks as (

    select distinct tier, tier_rank
    from {{ ref('dora_tier_thresholds') }}
    where benchmark_year = {{ dora_benchmark_year() }}

),

tiers as (

    select
        tier.day as snapshot_date,
        tier.scope_type,
        tier.scope_id,
        'dora_tier_' || tier.metric as kpi,
        tier_ranks.tier_rank as value,
        case tier.metric
            when 'lead_time' then metrics.lead_time_sample_size
            when 'time_to_restore' then metrics.restore_sample_size
            else metrics.deployments
        end as sample_size
    from {{ ref('mart_dora_tier') }} as tier
    left join tier_ranks
        on tier.tier = tier_ranks.tier
    inner join metrics
        on metrics.snapshot_date = tier.day
        and metrics.scope_type = tier.scope_type
        and metrics.scope_id = tier.scope_id
        and metrics."window" = '30d'

)

select snapshot_date, 'deployment_frequency' as kpi, scope_type, scope_id, "window",
       deployment_frequency as value, 'per_day' as unit, deployments as sample_size
from metrics
union all
select snapshot_date, 'change_failure_rate', scope_type, scope_id, "window", change_failure_rate, 'pct', deployments
from metrics
union all
select snapshot_date, 'deployment_rework_rate', scope_type, scope_id, "window", deployment_rework_rate, 'pct',
       deployments
from metrics
union all
select snapshot_date, 'lead_time_p50', scope_type, scope_id, "window", lead_time_p50, 's', lead_time_sample_size
from metrics
union all
select snapshot_date, 'time_to_restore_p50', scope_type, scope_id, "window", time_to_restore_p50, 's',
       restore_sample_size
from metrics
union all
select snapshot_date, kpi, scope_type, scope_id, '30d', value, 'tier', sample_size
from tiers
