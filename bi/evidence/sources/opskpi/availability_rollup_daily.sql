select day, scope_type, scope_id, availability_pct, service_count, downtime_s
from marts.mart_availability_rollup_daily
