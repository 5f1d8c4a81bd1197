-- One row per Dependabot alert (one-to-one with raw.github__dependabot_alerts). Severity as the advisory states it
-- (security_advisory.severity, else security_vulnerability.severity), lower-cased, not validated here.

with source as (

    {{ security_source_or_empty(source('github_security', 'dependabot_alerts'),
        [('repo', 'varchar'), ('number', 'bigint'), ('record', 'json'), ('_loaded_at', 'timestamptz')]) }}

)

select
    repo,
    number as alert_number,
    {{ json_text('record', 'state') }} as state,
    lower(coalesce({{ json_text('record', 'security_advisory.severity') }}, {{ json_text('record', 'security_vulnerability.severity') }}))
        as severity_raw,
    {{ json_text('record', 'dependency.package.ecosystem') }} as ecosystem,
    {{ json_text('record', 'dependency.package.name') }} as package_name,
    {{ json_text('record', 'security_advisory.ghsa_id') }} as ghsa_id,
    {{ json_text('record', 'dismissed_reason') }} as dismissed_reason,
    {{ json_text('record', 'html_url') }} as html_url,
    {{ api_timestamp(json_text('record', 'created_at')) }} as created_at,
    {{ api_timestamp(json_text('record', 'updated_at')) }} as updated_at,
    {{ api_timestamp(json_text('record', 'fixed_at')) }} as fixed_at,
    {{ api_timestamp(json_text('record', 'dismissed_at')) }} as dismissed_at,
    {{ api_timestamp(json_text('record', 'auto_dismissed_at')) }} as auto_dismissed_at,
    {{ api_timestamp(json_text('record', 'security_advisory.published_at')) }} as advisory_published_at,
    {{ api_timestamp(json_text('record', 'security_advisory.withdrawn_at')) }} as advisory_withdrawn_at,
    {{ json_text('record', 'security_vulnerability.first_patched_version.identifier') }} as first_patched_version,
    _loaded_at
from source
