{{
    config(
        materialized='incremental',
        tags=['every_run'],
        incremental_strategy='delete+insert',
        unique_key='snapshot_date',
        on_schema_change='append_new_columns',
        full_refresh=false,
        post_hook="{{ drop_earlier_rows_of_run_date() }}",
    )
}}
-- Data health per source and stream, as it stood when the run of snapshot_date built the marts: the report's
-- data-health panel (published/ holds only marts, so this is how the pipeline's bookkeeping in meta.* reaches
-- it). Like kpi_daily_snapshot, a run replaces only its own date. Only counts, timestamps and expectation
-- names are copied: never manifests, records, example rows or anything else that could hold a token or an
-- e-mail address. The meta tables are written by the pipeline's load step; when they do not exist (a bare dbt
-- build) the model is empty.

{%- set batches = source('meta', 'batches') %}
{%- set validations = source('meta', 'validation_results') %}
{%- set watermarks = source('meta', 'watermarks') %}
{%- set coverage = source('meta', 'stream_coverage') %}
{%- set present = {} %}
{%- if execute %}
    {%- for name, rel in [('batches', batches), ('validations', validations), ('watermarks', watermarks),
                          ('coverage', coverage)] %}
        {%- do present.update({name: adapter.get_relation(rel.database, rel.schema, rel.identifier) is not none}) %}
    {%- endfor %}
{%- endif %}

with batches as (

    {%- if present.get('batches') %}
    select source, stream, run_id, status, rows_landed, rows_changed, requests, loaded_at
    from {{ batches }}
    {%- else %}
    select null::varchar as source, null::varchar as stream, null::varchar as run_id, null::varchar as status,
           null::bigint as rows_landed, null::bigint as rows_changed, null::bigint as requests,
           null::timestamptz as loaded_at
    where false
    {%- endif %}

),

validations as (

    {%- if present.get('validations') %}
    select source, stream, success, evaluated_at, failed_expectations
    from {{ validations }}
    where evaluated_at > now() - interval '24 hours'
    {%- else %}
    select null::varchar as source, null::varchar as stream, null::boolean as success,
           null::timestamptz as evaluated_at, cast(null as {{ json_type() }}) as failed_expectations
    where false
    {%- endif %}

),

watermarks as (

    {%- if present.get('watermarks') %}
    select source, stream, {{ try_cast('cursor_value', 'timestamptz') }} as cursor_at
    from {{ watermarks }}
    {%- else %}
    select null::varchar as source, null::varchar as stream, null::timestamptz as cursor_at
    where false
    {%- endif %}

),

not_enabled as (

    -- What this run's API said is not enabled (an optional stream: PagerDuty teams on an account without the
    -- feature, a scanner that is off), once per stream: the partitions and the HTTP status, never the message.
    {%- if present.get('coverage') %}
    select
        source,
        stream,
        string_agg(distinct coalesce(nullif(partition_id, '') || ': ', '') || 'not enabled (HTTP '
                   || status_code || ')', ', ' order by coalesce(nullif(partition_id, '') || ': ', '')
                   || 'not enabled (HTTP ' || status_code || ')') as not_enabled
    from {{ coverage }}
    where status = 'not_enabled' and run_id = {{ kpi_snapshot_run_id() }}
    group by 1, 2
    {%- else %}
    select null::varchar as source, null::varchar as stream, null::varchar as not_enabled
    where false
    {%- endif %}

),

streams as (

    select source, stream from batches
    union
    select source, stream from validations
    union
    select source, stream from watermarks
    union
    select source, stream from not_enabled

),

loads as (

    select
        source,
        stream,
        max(loaded_at) filter (where status = 'loaded') as last_loaded_at,
        count(*) filter (where status = 'loaded' and run_id = {{ kpi_snapshot_run_id() }}) as batches_loaded,
        coalesce(sum(rows_landed) filter (where status = 'loaded' and run_id = {{ kpi_snapshot_run_id() }}), 0)
            as rows_landed,
        coalesce(sum(rows_changed) filter (where status = 'loaded' and run_id = {{ kpi_snapshot_run_id() }}), 0)
            as rows_changed
    from batches
    group by 1, 2

),

failures as (

    -- expectation type and column only: the failure records also carry example rows, which stay in meta
    select
        validations.source,
        validations.stream,
        {{ json_array_rows('validations.failed_expectations') }} as failure
    from validations
    where not validations.success or {{ json_length('validations.failed_expectations') }} > 0

),

failure_names as (

    select
        source,
        stream,
        count(*) as failed_expectations,
        string_agg(
            distinct (failure ->> 'expectation')
                || coalesce('(' || (failure -> 'kwargs' ->> 'column') || ')', ''),
            ', '
            order by (failure ->> 'expectation')
                || coalesce('(' || (failure -> 'kwargs' ->> 'column') || ')', '')
        ) as failed_checks
    from failures
    group by 1, 2

),

checks as (

    select
        source,
        stream,
        count(*) as validations,
        count(*) filter (where not success) as failed_validations
    from validations
    group by 1, 2

),

before_window as (

    -- records dated before the history window: left out of the day grids (macros/history_window.sql)
    {{ records_before_window() }}

),

freshness as (

    select source, stream, max(cursor_at) as newest_record_at
    from watermarks
    group by 1, 2

)

select
    {{ run_date() }} as snapshot_date,
    streams.source,
    streams.stream,
    loads.last_loaded_at,
    coalesce(loads.batches_loaded, 0) as batches_loaded,
    coalesce(loads.rows_landed, 0) as rows_landed,
    coalesce(loads.rows_changed, 0) as rows_changed,
    coalesce(checks.validations, 0) as validations_24h,
    coalesce(checks.failed_validations, 0) as failed_validations_24h,
    coalesce(failure_names.failed_expectations, 0) as failed_expectations_24h,
    failure_names.failed_checks,
    freshness.newest_record_at,
    case
        when freshness.newest_record_at is not null
            then greatest(0, {{ seconds_between('freshness.newest_record_at', as_of()) }})
    end as freshness_s,
    {{ kpi_snapshot_run_id() }} as run_id,
    now() as computed_at,
    not_enabled.not_enabled,
    coalesce(before_window.records_before_window, 0) as records_before_window
from streams
left join loads
    on loads.source = streams.source and loads.stream = streams.stream
left join checks
    on checks.source = streams.source and checks.stream = streams.stream
left join failure_names
    on failure_names.source = streams.source and failure_names.stream = streams.stream
left join freshness
    on freshness.source = streams.source and freshness.stream = streams.stream
left join not_enabled
    on not_enabled.source = streams.source and not_enabled.stream = streams.stream
left join before_window
    on before_window.source = streams.source and before_window.stream = streams.stream
where streams.source is not null
