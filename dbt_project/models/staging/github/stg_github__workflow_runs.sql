-- One row per Actions workflow run, at its latest attempt (one-to-one with raw.github__workflow_runs).
-- The API's run carries a minimal repository without `default_branch`: it comes from the repository itself
-- (stg_github__repositories); a run that does carry one (older payloads, hand-built data) keeps its own.

with source as (

    select repo, id, updated_at, record, _loaded_at
    from {{ source('github', 'workflow_runs') }}

),

repositories as (

    select repo, default_branch
    from {{ ref('stg_github__repositories') }}

)

select
    source.repo,
    source.id as run_id,
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
    coalesce(record->>'$.repository.default_branch', repositories.default_branch) as default_branch,
    {{ api_timestamp("record->>'$.created_at'") }} as created_at,
    source.updated_at,
    {{ api_timestamp("record->>'$.run_started_at'") }} as run_started_at,
    source._loaded_at
from source
left join repositories
    on source.repo = repositories.repo
