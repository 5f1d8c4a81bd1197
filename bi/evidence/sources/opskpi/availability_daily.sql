select day, service_id, service_name, team, availability_pct, downtime_s, incident_count, slo_target_pct,
       downtime_30d_s, error_budget_remaining_pct, sample_complete
from marts.mart_availability_daily
