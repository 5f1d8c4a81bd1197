-- Flow percentiles are NULL exactly when their sample is empty; the lead time sample is the resolved issues.
select *
from {{ ref('mart_jira_flow_daily') }}
where (cycle_time_s_p50 is null) <> (cycle_time_sample_size = 0)
   or (cycle_time_s_p85 is null) <> (cycle_time_sample_size = 0)
   or (lead_time_s_p50 is null) <> (lead_time_sample_size = 0)
   or lead_time_sample_size <> resolved
   or cycle_time_s_p85 < cycle_time_s_p50
