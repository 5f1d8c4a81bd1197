-- One row per code scanning alert (one-to-one with raw.github__code_scanning_alerts), rule severities as sent.

with source as (

    {{ security_source_or_empty(source('github_security', 'code_scanning_alerts'),
        [('repo', 'varchar'), ('number', 'bigint'), ('record', 'json'), ('_loaded_at', 'timestamptz')]) }}

)

select
    repo,
    number as alert_number,
    {{ json_text('record', 'state') }} as state,
    {{ json_text('record', 'rule.id') }} as rule_id,
    lower({{ json_text('record', 'rule.severity') }}) as rule_severity,
    lower({{ json_text('record', 'rule.security_severity_level') }}) as security_severity_level,
    {{ json_text('record', 'tool.name') }} as tool_name,
    {{ json_text('record', 'dismissed_reason') }} as dismissed_reason,
    {{ json_text('record', 'html_url') }} as html_url,
    {{ api_timestamp(json_text('record', 'created_at')) }} as created_at,
    {{ api_timestamp(json_text('record', 'updated_at')) }} as updated_at,
    {{ api_timestamp(json_text('record', 'fixed_at')) }} as fixed_at,
    {{ api_timestamp(json_text('record', 'dismissed_at')) }} as dismissed_at,
    _loaded_at
from source
