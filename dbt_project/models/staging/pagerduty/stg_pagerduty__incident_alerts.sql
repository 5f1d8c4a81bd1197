-- One row per PagerDuty alert (one-to-one with raw.pagerduty__incident_alerts) with the monitor's event time:
-- impact_start_at is the first value at var detection_impact_start_paths (config detection.impact_start_paths,
-- default body.cef_details.creation_time) that parses as ISO-8601 with a UTC offset; NULL for e-mail alerts
-- (cef_details null), events without payload.timestamp, and stamps without an offset (impact_start_text keeps
-- what was sent). Definitions: docs/metrics.md "Time to detect".

with source as (

    {{ security_source_or_empty(source('pagerduty_detection', 'incident_alerts'),
        [('id', 'varchar'), ('incident_id', 'varchar'), ('created_at', 'timestamptz'), ('record', 'json'),
         ('_loaded_at', 'timestamptz')]) }}

)

select
    id as alert_id,
    coalesce(incident_id, {{ json_text('record', 'incident.id') }}) as incident_id,
    coalesce(created_at, {{ api_timestamp(json_text('record', 'created_at')) }}) as created_at,
    {{ json_text('record', 'status') }} as status,
    coalesce({{ try_cast(json_text('record', 'suppressed'), 'boolean') }}, false) as is_suppressed,
    {{ json_text('record', 'alert_key') }} as alert_key,
    {{ json_text('record', 'integration.type') }} as integration_type,
    {{ detection_impact_start_text('record') }} as impact_start_text,
    {{ detection_impact_start('record') }} as impact_start_at,
    _loaded_at
from source
