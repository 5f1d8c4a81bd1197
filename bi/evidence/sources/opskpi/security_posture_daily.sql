select day, scope_type, scope_id, repo, team, tool, severity, open, opened, fixed, dismissed, withdrawn,
       in_breach, sla_compliance_pct, oldest_open_age_days, ttr_days_mean, ttr_days_p50
from marts.mart_security_posture_daily
