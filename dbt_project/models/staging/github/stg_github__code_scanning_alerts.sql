-- One row per code scanning alert (one-to-one with raw.github__code_scanning_alerts), rule severities as sent.

with source as (

    {{ security_source_or_empty(source('github_security', 'code_scanning_alerts'),
        [('repo', 'varchar'), ('number', 'bigint'), ('record', 'json'), ('_loaded_at', 'timestamptz')]) }}

)

select
    repo,
    number as alert_number,
    record->>'$.state' as state,
    record->>'$.rule.id' as rule_id,
    lower(record->>'$.rule.severity') as rule_severity,
    lower(record->>'$.rule.security_severity_level') as security_severity_level,
    record->>'$.tool.name' as tool_name,
    record->>'$.dismissed_reason' as dismissed_reason,
    record->>'$.html_url' as html_url,
    {{ api_timestamp("record->>'$.created_at'") }} as created_at,
    {{ api_timestamp("record->>'$.updated_at'") }} as updated_at,
    {{ api_timestamp("record->>'$.fixed_at'") }} as fixed_at,
    {{ api_timestamp("record->>'$.dismissed_at'") }} as dismissed_at,
    _loaded_at
from source
