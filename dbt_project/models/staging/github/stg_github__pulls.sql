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
        from_json(record, '{
            "id": "BIGINT", "state": "VARCHAR", "title": "VARCHAR",
            "user": {"login": "VARCHAR", "__typename": "VARCHAR"}, "labels": "JSON",
            "base_ref": "VARCHAR", "head_ref": "VARCHAR", "head": {"ref": "VARCHAR"}, "base_repository": {"default_branch": {"name": "VARCHAR"}},
            "base": {"ref": "VARCHAR", "repo": {"default_branch": "VARCHAR"}},
            "draft": "BOOLEAN", "created_at": "VARCHAR", "closed_at": "VARCHAR", "merged_at": "VARCHAR",
            "merge_commit": {"sha": "VARCHAR"}, "merge_commit_sha": "VARCHAR"
        }') as r,
        _loaded_at
    from {{ source('github', 'pulls') }}
    where {{ changed_rows_filter() }}

),

renamed as (

    select
        repo,
        number as pull_number,
        r.id as pull_request_id,
        case upper(r.state)
            when 'OPEN' then 'open'
            when 'CLOSED' then 'closed'
            when 'MERGED' then 'closed'
            else r.state
        end as state,
        r.title as title,
        case when r.user.__typename = 'Bot' then r.user.login || '[bot]' else r.user.login end as author_login,
        case
            when json_type(r.labels) = 'OBJECT' then json_extract_string(r.labels, '$.nodes[*].name')
            else json_extract_string(r.labels, '$[*].name')
        end as label_names,
        coalesce(r.base_ref, r.base.ref) as base_ref,
        -- the source branch (GraphQL headRefName, REST head.ref): end-to-end lead time reads Jira keys in it
        coalesce(r.head_ref, r.head.ref) as head_ref,
        coalesce(r.base_repository.default_branch.name, r.base.repo.default_branch) as base_default_branch,
        coalesce(r.draft, false) as is_draft,
        {{ api_timestamp("r.created_at") }} as created_at,
        updated_at,
        {{ api_timestamp("r.closed_at") }} as closed_at,
        {{ api_timestamp("r.merged_at") }} as merged_at,
        coalesce(r.merge_commit.sha, r.merge_commit_sha) as merge_commit_sha,
        _loaded_at

    from source

)

select
    *,
    merged_at is not null as is_merged
from renamed
