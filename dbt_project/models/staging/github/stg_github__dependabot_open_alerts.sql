-- The withdrawal check (one row per Dependabot alert any complete state=open walk listed; raw keeps the newest
-- listing): `listed_at` is the end of the window of the newest walk that listed the alert. Which walks there were
-- (also those that listed nothing) is in meta.stream_coverage; int_security__withdrawn_alerts compares the two.

with source as (

    {{ security_source_or_empty(source('github_security', 'dependabot_open_alerts'),
        [('repo', 'varchar'), ('number', 'bigint'), ('listed_at', 'timestamptz'), ('record', 'json')]) }}

)

select
    repo,
    number as alert_number,
    listed_at,
    {{ api_timestamp(json_text('record', 'security_advisory.withdrawn_at')) }} as advisory_withdrawn_at
from source
