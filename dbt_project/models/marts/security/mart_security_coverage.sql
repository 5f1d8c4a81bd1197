-- Per run, repository and scanner: whether GitHub served the alert list (enabled) or answered that the scanner is
-- not enabled there (404 / 403 with its message), from meta.stream_coverage (written by the loader from each
-- extraction batch's manifest). is_latest marks the newest answer per repository and tool. Empty in a bare dbt
-- build (no meta tables).

{%- set coverage = source('meta', 'stream_coverage') %}

with coverage as (

    {%- if security_relation_exists(coverage) %}
    select stream, partition_id, status, status_code, message, run_id, batch_id, extracted_at
    from {{ coverage }}
    where source = 'github'
      and stream in ('dependabot_alerts', 'code_scanning_alerts', 'secret_scanning_alerts')
    {%- else %}
    select null::varchar as stream, null::varchar as partition_id, null::varchar as status,
           null::integer as status_code, null::varchar as message, null::varchar as run_id,
           null::varchar as batch_id, null::timestamptz as extracted_at
    where false
    {%- endif %}

)

select
    coverage.run_id,
    coverage.batch_id,
    coverage.extracted_at as checked_at,
    coverage.partition_id as repo,
    coalesce(repos.team, 'unassigned') as team,
    replace(coverage.stream, '_alerts', '') as tool,
    coverage.status = 'ok' as enabled,
    coverage.status,
    coverage.status_code,
    coverage.message,
    row_number() over (
        partition by coverage.partition_id, coverage.stream order by coverage.extracted_at desc, coverage.batch_id desc
    ) = 1 as is_latest,
    {{ date_key(to_local_date('coverage.extracted_at')) }} as date_key,
    {{ dim_key('repository', 'coverage.partition_id') }} as repository_key,
    {{ dim_key('team', "coalesce(repos.team, 'unassigned')") }} as team_key
from coverage
left join {{ ref('stg_config__repos') }} as repos
    on coverage.partition_id = repos.repo
