{{ config(tags=['kpi_snapshot_area']) }}
{#-
    KPI area "jira_flow" of the nightly snapshot: a placeholder until the Jira flow marts exist (no rows, so
    the report hides the Jira flow tiles and chart). To plug it in, replace the last line with a select over
    mart_jira_flow_daily joined to int_kpi_snapshot_windows (see int_kpi_snapshot__dora.sql for the shape):
      cycle_time_p50 (s): issues entering done in the window; sample_size = those issues
      throughput (count): issues entering done in the window (reopened and closed again counts again)
      wip (count): window 1d only, issues in `indeterminate` at the end of the day
    scopes org / team / project; windows 1d / 7d / 30d.
-#}

{{ kpi_area_pending('jira_flow', ['mart_jira_flow_daily']) }}
