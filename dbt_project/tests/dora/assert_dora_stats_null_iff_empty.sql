-- Rates and percentiles are NULL exactly when their sample is empty; never 0 for "no data".
select *
from {{ ref('mart_dora_daily') }}
where (deployments = 0) <> (change_failure_rate_pct is null)
   or (lead_time_sample_size = 0) <> (lead_time_s_p50 is null)
   or failed_deployments > deployments
   or (deployments = 0) <> (deployment_rework_rate_pct is null)
   or rework_deployments > deployments
   or (failed_deployments = 0 and time_to_restore_s_p50 is not null)
