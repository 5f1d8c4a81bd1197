select day, scope_type, scope_id, metric, value, tier, benchmark_year, sample_complete
from marts.mart_dora_tier
