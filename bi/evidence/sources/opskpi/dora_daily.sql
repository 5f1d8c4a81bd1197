select day, scope_type, scope_id, deployments, failed_deployments, change_failure_rate_pct,
       lead_time_s_p50, lead_time_s_p75, lead_time_s_p90, lead_time_sample_size, time_to_restore_s_p50
from marts.mart_dora_daily
