{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['repo', 'run_id'],
        on_schema_change='sync_all_columns',
        pre_hook="{{ changed_rows_pre_hook() }}",
        post_hook="{{ changed_rows_post_hook() }}",
    )
}}
-- Incremental: only the raw rows loaded since the last build are parsed (macros/changed_keys.sql).
-- One row per Actions workflow run, at its latest attempt (one-to-one with raw.github__workflow_runs).

with source as (

    select repo, id, updated_at, record, _loaded_at
    from {{ source('github', 'workflow_runs') }}
    where {{ changed_rows_filter() }}

)

select
    repo,
    id as run_id,
    cast(record->>'$.workflow_id' as bigint) as workflow_id,
    record->>'$.name' as workflow_name,
    -- `path` is `.github/workflows/deploy.yml@main` (or `@refs/pull/…`): the file without the ref
    split_part(record->>'$.path', '@', 1) as workflow_path,
    record->>'$.event' as event,
    record->>'$.head_branch' as head_branch,
    record->>'$.head_sha' as head_sha,
    record->>'$.status' as status,
    record->>'$.conclusion' as conclusion,
    cast(record->>'$.run_attempt' as bigint) as run_attempt,
    record->>'$.repository.default_branch' as default_branch,
    {{ api_timestamp("record->>'$.created_at'") }} as created_at,
    updated_at,
    {{ api_timestamp("record->>'$.run_started_at'") }} as run_started_at,
    _loaded_at
from source
