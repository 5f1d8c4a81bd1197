select day, scope_type, scope_id, created, resolved, throughput, wip_end_of_day,
       cycle_time_s_p50, cycle_time_s_p85, lead_time_s_p50, bug_backlog, cycle_time_sample_size, lead_time_sample_size
from marts.mart_jira_flow_daily
