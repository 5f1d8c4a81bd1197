-- Every security alert has a known severity (critical, high, medium, low after the mapping of
-- docs/metrics.md). An unknown one fails the build with an error naming the alert, its tool and the value sent,
-- instead of being dropped from the posture.
select alert_key, severity_raw
from {{ ref('fct_security_alerts') }}
where not severity_known
  and {{ raise_error("'security alert ' || alert_key || ' has unknown severity ''' || coalesce(severity_raw, 'NULL')"
                     ~ " || ''' (expected critical, high, medium or low; see docs/metrics.md Security posture)'") }} is null
