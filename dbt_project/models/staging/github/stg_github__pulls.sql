{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['repo', 'pull_number'],
        on_schema_change='sync_all_columns',
        pre_hook="{{ changed_rows_pre_hook() }}",
        post_hook="{{ changed_rows_post_hook() }}",
    )
}}
-- Incremental: only the raw rows loaded since the last build are parsed (macros/changed_keys.sql).
with source as (

    select repo, number, updated_at, record, _loaded_at
    from {{ source('github', 'pulls') }}
    where {{ changed_rows_filter() }}

),

renamed as (

    select
        repo,
        number as pull_number,
        cast(record->>'$.id' as bigint) as pull_request_id,
        record->>'$.state' as state,
        record->>'$.title' as title,
        record->>'$.user.login' as author_login,
        json_extract_string(record, '$.labels[*].name') as label_names,
        record->>'$.base.ref' as base_ref,
        record->>'$.base.repo.default_branch' as base_default_branch,
        coalesce(cast(record->>'$.draft' as boolean), false) as is_draft,
        {{ api_timestamp("record->>'$.created_at'") }} as created_at,
        updated_at,
        {{ api_timestamp("record->>'$.closed_at'") }} as closed_at,
        {{ api_timestamp("record->>'$.merged_at'") }} as merged_at,
        record->>'$.merge_commit_sha' as merge_commit_sha,
        _loaded_at

    from source

)

select
    *,
    merged_at is not null as is_merged
from renamed
