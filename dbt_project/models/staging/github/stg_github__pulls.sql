-- One row per pull request. Read from GitHub's GraphQL API (fields aliased to the REST names in
-- extractors/sources/github_graphql.py); rows loaded from REST before keep REST's shape, so the few fields
-- shaped differently read either: upper-case states with MERGED, `labels.nodes`, a Bot's login without
-- `[bot]`, `base_ref`/`base_repository` instead of `base`, `merge_commit.sha`.

with source as (

    select repo, number, updated_at, record, _loaded_at
    from {{ source('github', 'pulls') }}

),

renamed as (

    select
        repo,
        number as pull_number,
        cast(record->>'$.id' as bigint) as pull_request_id,
        case upper(record->>'$.state')
            when 'OPEN' then 'open'
            when 'CLOSED' then 'closed'
            when 'MERGED' then 'closed'
            else record->>'$.state'
        end as state,
        record->>'$.title' as title,
        case
            when record->>'$.user.__typename' = 'Bot' then (record->>'$.user.login') || '[bot]'
            else record->>'$.user.login'
        end as author_login,
        case
            when json_type(record, '$.labels') = 'OBJECT' then json_extract_string(record, '$.labels.nodes[*].name')
            else json_extract_string(record, '$.labels[*].name')
        end as label_names,
        coalesce(record->>'$.base_ref', record->>'$.base.ref') as base_ref,
        coalesce(
            record->>'$.base_repository.default_branch.name', record->>'$.base.repo.default_branch'
        ) as base_default_branch,
        coalesce(cast(record->>'$.draft' as boolean), false) as is_draft,
        {{ api_timestamp("record->>'$.created_at'") }} as created_at,
        updated_at,
        {{ api_timestamp("record->>'$.closed_at'") }} as closed_at,
        {{ api_timestamp("record->>'$.merged_at'") }} as merged_at,
        coalesce(record->>'$.merge_commit.sha', record->>'$.merge_commit_sha') as merge_commit_sha,
        _loaded_at

    from source

)

select
    *,
    merged_at is not null as is_merged
from renamed
