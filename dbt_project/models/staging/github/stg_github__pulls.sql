{{ changed_rows_config(['repo', 'pull_number']) }}
-- One row per pull request. Read from GitHub's GraphQL API (fields aliased to the REST names in
-- extractors/sources/github_graphql.py); rows loaded from REST before keep REST's shape, so the few fields
-- shaped differently read either: upper-case states with MERGED, `labels.nodes`, a Bot's login without
-- `[bot]`, `base_ref`/`base_repository` instead of `base`, `merge_commit.sha`.
-- Incremental: only the raw rows loaded since the last build are parsed (macros/changed_keys.sql).
with source as (

    -- one parse per record into the fields used (a record is ~18 kB: extracting each field with ->> parsed it
    -- once per field and took 5x the time and memory)
    select
        repo,
        number,
        updated_at,
        {{ json_struct('record', '{
            "id": "BIGINT", "state": "VARCHAR", "title": "VARCHAR",
            "user": {"login": "VARCHAR", "__typename": "VARCHAR"}, "labels": "JSON",
            "base_ref": "VARCHAR", "head_ref": "VARCHAR", "head": {"ref": "VARCHAR"}, "base_repository": {"default_branch": {"name": "VARCHAR"}},
            "base": {"ref": "VARCHAR", "repo": {"default_branch": "VARCHAR"}},
            "draft": "BOOLEAN", "created_at": "VARCHAR", "closed_at": "VARCHAR", "merged_at": "VARCHAR",
            "merge_commit": {"sha": "VARCHAR"}, "merge_commit_sha": "VARCHAR"
        }') }} as r,
        _loaded_at
    from {{ source('github', 'pulls') }}
    where {{ changed_rows_filter() }}

),

renamed as (

    select
        repo,
        number as pull_number,
        {{ json_struct_field('r', 'id', 'bigint') }} as pull_request_id,
        case upper({{ json_struct_field('r', 'state') }})
            when 'OPEN' then 'open'
            when 'CLOSED' then 'closed'
            when 'MERGED' then 'closed'
            else {{ json_struct_field('r', 'state') }}
        end as state,
        {{ json_struct_field('r', 'title') }} as title,
        case when {{ json_struct_field('r', 'user.__typename') }} = 'Bot' then {{ json_struct_field('r', 'user.login') }} || '[bot]' else {{ json_struct_field('r', 'user.login') }} end as author_login,
        case
            when {{ json_type_at(json_struct_field('r', 'labels', 'json'), '') }} = 'OBJECT'
                then {{ json_array_texts(json_struct_field('r', 'labels', 'json'), 'nodes', 'name') }}
            else {{ json_array_texts(json_struct_field('r', 'labels', 'json'), '', 'name') }}
        end as label_names,
        coalesce({{ json_struct_field('r', 'base_ref') }}, {{ json_struct_field('r', 'base.ref') }}) as base_ref,
        -- the source branch (GraphQL headRefName, REST head.ref): end-to-end lead time reads Jira keys in it
        coalesce({{ json_struct_field('r', 'head_ref') }}, {{ json_struct_field('r', 'head.ref') }}) as head_ref,
        coalesce({{ json_struct_field('r', 'base_repository.default_branch.name') }}, {{ json_struct_field('r', 'base.repo.default_branch') }}) as base_default_branch,
        coalesce({{ json_struct_field('r', 'draft', 'boolean') }}, false) as is_draft,
        {{ api_timestamp(json_struct_field('r', 'created_at')) }} as created_at,
        updated_at,
        {{ api_timestamp(json_struct_field('r', 'closed_at')) }} as closed_at,
        {{ api_timestamp(json_struct_field('r', 'merged_at')) }} as merged_at,
        coalesce({{ json_struct_field('r', 'merge_commit.sha') }}, {{ json_struct_field('r', 'merge_commit_sha') }}) as merge_commit_sha,
        _loaded_at

    from source

)

select
    *,
    merged_at is not null as is_merged
from renamed
