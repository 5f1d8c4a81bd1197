-- One row per secret scanning alert (one-to-one with raw.github__secret_scanning_alerts). The secret itself is
-- never selected (and not extracted: hide_secret=true).

with source as (

    {{ security_source_or_empty(source('github_security', 'secret_scanning_alerts'),
        [('repo', 'varchar'), ('number', 'bigint'), ('record', 'json'), ('_loaded_at', 'timestamptz')]) }}

)

select
    repo,
    number as alert_number,
    {{ json_text('record', 'state') }} as state,
    {{ json_text('record', 'resolution') }} as resolution,
    {{ json_text('record', 'secret_type') }} as secret_type,
    {{ json_text('record', 'html_url') }} as html_url,
    {{ api_timestamp(json_text('record', 'created_at')) }} as created_at,
    {{ api_timestamp(json_text('record', 'updated_at')) }} as updated_at,
    {{ api_timestamp(json_text('record', 'resolved_at')) }} as resolved_at,
    _loaded_at
from source
