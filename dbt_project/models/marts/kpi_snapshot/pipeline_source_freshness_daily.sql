{{ config(materialized='table') }}
-- dbt source freshness per raw table and run date, as recorded in this build's dbt process just before the build
-- (meta.source_freshness, macros/source_freshness.sql): the report's data-health section reads
-- it from the published marts. The history is the meta table's (a rerun of a date replaces that date's rows).
-- Run bookkeeping like pipeline_health_daily (pipeline_ prefix: equivalence tests skip it, its timestamps are
-- those of each check). Empty in a bare dbt build, where the meta table does not exist.

{%- set recorded = source('meta', 'source_freshness') %}
{%- set present = execute and adapter.get_relation(recorded.database, recorded.schema, recorded.identifier) is not none %}

{%- if present %}
select
    run_date as snapshot_date,
    run_id,
    source,
    source_table,
    status,
    max_loaded_at,
    snapshotted_at,
    age_s,
    warn_after_s,
    error_after_s
from {{ recorded }}
{%- else %}
select
    null::date as snapshot_date,
    null::varchar as run_id,
    null::varchar as source,
    null::varchar as source_table,
    null::varchar as status,
    null::timestamptz as max_loaded_at,
    null::timestamptz as snapshotted_at,
    null::double precision as age_s,
    null::double precision as warn_after_s,
    null::double precision as error_after_s
where false
{%- endif %}
