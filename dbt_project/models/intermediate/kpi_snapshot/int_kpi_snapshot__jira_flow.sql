{{ config(tags=['kpi_snapshot_area']) }}
-- KPI area "jira_flow" of the nightly snapshot (definitions: docs/metrics.md "Jira flow"). Scopes org / team /
-- project (those of mart_jira_flow_daily) x windows x every date whose window overlaps the mart's days;
-- no rows at all while no project is known.
-- Deleted issues are left out and a moved issue counts in its current project, as in the mart.
--   cycle_time_p50   median cycle time (s) of the issues whose last entry into `done` falls in the window
--                    (fct_jira_issues.cycle_time_s, exact quantile_cont over those issues, never an average
--                    of daily medians); sample_size = those issues; NULL with 0 when none
--   throughput       entries into a `done` status in the window (the mart's daily counts summed: an issue
--                    reopened and closed again counts again); sample_size = the count
--   wip              window 1d only: issues in an `indeterminate` status at the end of the day (at as_of on
--                    run_date); sample_size = the count
-- For window 1d the values equal mart_jira_flow_daily's (tested).

with windows as (

    select snapshot_date, "window", window_start_day
    from {{ ref('int_kpi_snapshot_windows') }}

),

daily as (

    select day, scope_type, scope_id, throughput, wip_end_of_day
    from {{ ref('mart_jira_flow_daily') }}
    -- without any project (Jira not set up) the mart still has an empty org row per day: emit nothing then,
    -- so the report keeps the Jira flow area hidden instead of showing 0 throughput
    where exists (select 1 from {{ ref('mart_jira_flow_daily') }} where scope_type = 'project')

),

issues as (

    select project, team, {{ to_local_date('last_done_at') }} as done_day, cycle_time_s
    from {{ ref('fct_jira_issues') }}
    where not is_deleted
      and cycle_time_s is not null

),

scoped_issues as (

    {{ rows_per_scope('select done_day, project, team, cycle_time_s from issues',
                      [('project', 'project'), ('team', 'team'), ('org', "'org'")]) }}

),

-- the grid: every scope and window that overlaps the mart's days (the mart is dense per scope and day)
flow_windows as (

    select
        windows.snapshot_date,
        windows."window",
        daily.scope_type,
        daily.scope_id,
        sum(daily.throughput) as throughput,
        -- the stock at the end of the snapshot date (used for window 1d only)
        sum(daily.wip_end_of_day) filter (where daily.day = windows.snapshot_date) as wip
    from windows
    inner join daily
        on daily.day between windows.window_start_day and windows.snapshot_date
    group by 1, 2, 3, 4

),

cycle_time_windows as (

    {{ window_stats('windows', 'scoped_issues', 'done_day', [('p50_s', percentile('facts.cycle_time_s', 0.5))]) }}

),

flow as (

    select
        flow_windows.*,
        cycle_time_windows.p50_s as cycle_time_p50,
        coalesce(cycle_time_windows.sample_size, 0) as cycle_time_sample_size
    from flow_windows
    left join cycle_time_windows
        on cycle_time_windows.snapshot_date = flow_windows.snapshot_date
        and cycle_time_windows."window" = flow_windows."window"
        and cycle_time_windows.scope_type = flow_windows.scope_type
        and cycle_time_windows.scope_id = flow_windows.scope_id

)

select snapshot_date, 'cycle_time_p50' as kpi, scope_type, scope_id, "window", cycle_time_p50 as value,
       's' as unit, cycle_time_sample_size as sample_size
from flow
union all
select snapshot_date, 'throughput', scope_type, scope_id, "window", throughput, 'count', throughput
from flow
union all
select snapshot_date, 'wip', scope_type, scope_id, '1d', wip, 'count', wip
from flow
where "window" = '1d' and wip is not null
