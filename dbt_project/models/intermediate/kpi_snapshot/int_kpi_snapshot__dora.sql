{{ config(tags=['kpi_snapshot_area']) }}
{#-
    KPI area "dora" of the nightly snapshot: a placeholder until the DORA marts exist (no rows, so the report
    hides the DORA tiles and charts). To plug DORA in, replace the last line with a select over the marts
    joined to int_kpi_snapshot_windows: one row per KPI, scope (org / team / repo), window and date, e.g.

        with windows as (
            select snapshot_date, "window", window_days, window_start_day from {{ ref('int_kpi_snapshot_windows') }}
        ),
        deploys as (select day, scope_type, scope_id, deployments from {{ ref('mart_dora_daily') }})
        select w.snapshot_date, 'deployment_frequency' as kpi, d.scope_type, d.scope_id, w."window",
               sum(d.deployments) / w.window_days as value, 'per_day' as unit, sum(d.deployments) as sample_size
        from windows as w
        inner join deploys as d on d.day between w.window_start_day and w.snapshot_date
        group by all

    KPIs (seeds/kpi_catalog.csv already has a row for each; keep the names and units):
      deployment_frequency (per_day), lead_time_p50 (s), change_failure_rate (pct), time_to_restore_p50 (s):
        windows 1d / 7d / 30d; sample_size = deployments (lead time: deployed merged PRs; restore: failed
        deployments with a resolved incident)
      dora_tier_deployment_frequency, dora_tier_lead_time, dora_tier_change_failure_rate,
      dora_tier_time_to_restore (unit tier: 1 Elite, 2 High, 3 Medium, 4 Low): window 30d, scopes team and org
-#}

{{ kpi_area_pending('dora', ['mart_dora_daily', 'mart_dora_tier']) }}
