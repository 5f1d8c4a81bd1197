-- One row per Dependabot alert (one-to-one with raw.github__dependabot_alerts). Severity as the advisory states it
-- (security_advisory.severity, else security_vulnerability.severity), lower-cased, not validated here.

with source as (

    {{ security_source_or_empty(source('github_security', 'dependabot_alerts'),
        [('repo', 'varchar'), ('number', 'bigint'), ('record', 'json'), ('_loaded_at', 'timestamptz')]) }}

)

select
    repo,
    number as alert_number,
    record->>'$.state' as state,
    lower(coalesce(record->>'$.security_advisory.severity', record->>'$.security_vulnerability.severity'))
        as severity_raw,
    record->>'$.dependency.package.ecosystem' as ecosystem,
    record->>'$.dependency.package.name' as package_name,
    record->>'$.security_advisory.ghsa_id' as ghsa_id,
    record->>'$.dismissed_reason' as dismissed_reason,
    record->>'$.html_url' as html_url,
    {{ api_timestamp("record->>'$.created_at'") }} as created_at,
    {{ api_timestamp("record->>'$.updated_at'") }} as updated_at,
    {{ api_timestamp("record->>'$.fixed_at'") }} as fixed_at,
    {{ api_timestamp("record->>'$.dismissed_at'") }} as dismissed_at,
    {{ api_timestamp("record->>'$.auto_dismissed_at'") }} as auto_dismissed_at,
    {{ api_timestamp("record->>'$.security_advisory.published_at'") }} as advisory_published_at,
    {{ api_timestamp("record->>'$.security_advisory.withdrawn_at'") }} as advisory_withdrawn_at,
    record->>'$.security_vulnerability.first_patched_version.identifier' as first_patched_version,
    _loaded_at
from source
