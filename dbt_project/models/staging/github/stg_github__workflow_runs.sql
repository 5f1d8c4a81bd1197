{{ changed_rows_config(['repo', 'run_id']) }}
-- Incremental: only the raw rows loaded since the last build are parsed (macros/changed_keys.sql).
-- One row per Actions workflow run, at its latest attempt (one-to-one with raw.github__workflow_runs).
-- The API's run carries a minimal repository without `default_branch`: only a run that does carry one (older
-- payloads, hand-built data) has `run_default_branch`. The repository's own default branch is joined where it
-- is used (int_dora_deployments, a table rebuilt every night), never here: this model is incremental by run, so
-- a repository row that arrives later, or a renamed default branch, would never reach runs staged before.

with source as (

    -- one parse per record into the fields used (a record is ~15 kB: see stg_github__pulls)
    select
        repo,
        id,
        updated_at,
        {{ json_struct('record', '{
            "workflow_id": "BIGINT", "name": "VARCHAR", "path": "VARCHAR", "event": "VARCHAR",
            "head_branch": "VARCHAR", "head_sha": "VARCHAR", "status": "VARCHAR", "conclusion": "VARCHAR",
            "run_attempt": "BIGINT", "repository": {"default_branch": "VARCHAR"}, "created_at": "VARCHAR",
            "run_started_at": "VARCHAR"
        }') }} as r,
        _loaded_at
    from {{ source('github', 'workflow_runs') }}
    where {{ changed_rows_filter() }}

)

select
    source.repo,
    source.id as run_id,
    {{ json_struct_field('source.r', 'workflow_id', 'bigint') }} as workflow_id,
    {{ json_struct_field('source.r', 'name') }} as workflow_name,
    -- `path` is `.github/workflows/deploy.yml@main` (or `@refs/pull/…`): the file without the ref
    split_part({{ json_struct_field('source.r', 'path') }}, '@', 1) as workflow_path,
    {{ json_struct_field('source.r', 'event') }} as event,
    {{ json_struct_field('source.r', 'head_branch') }} as head_branch,
    {{ json_struct_field('source.r', 'head_sha') }} as head_sha,
    {{ json_struct_field('source.r', 'status') }} as status,
    {{ json_struct_field('source.r', 'conclusion') }} as conclusion,
    {{ json_struct_field('source.r', 'run_attempt', 'bigint') }} as run_attempt,
    {{ json_struct_field('source.r', 'repository.default_branch') }} as run_default_branch,
    {{ api_timestamp(json_struct_field('source.r', 'created_at')) }} as created_at,
    source.updated_at,
    {{ api_timestamp(json_struct_field('source.r', 'run_started_at')) }} as run_started_at,
    source._loaded_at
from source
