{{ config(tags=['kpi_snapshot_area']) }}
{#-
    KPI area "security" of the nightly snapshot: a placeholder until the security marts exist (no rows, so the
    report hides the security tiles and chart). To plug it in, replace the last line with a select over
    mart_security_posture_daily joined to int_kpi_snapshot_windows (see int_kpi_snapshot__dora.sql):
      alerts_open_critical, alerts_open_high, alerts_open_medium, alerts_open_low, alerts_in_breach (count):
        window 1d only (open at the end of the day); sample_size = the count
      sla_compliance (pct): window 1d, open alerts within SLA / open alerts; sample_size = open alerts
      time_to_remediate_mean, time_to_remediate_p50 (s): alerts fixed in the window; windows 1d / 7d / 30d
    scopes org / team / repo.
-#}

{{ kpi_area_pending('security', ['mart_security_posture_daily', 'fct_security_alerts']) }}
