{{ changed_rows_config(['repo', 'run_id']) }}
-- Incremental: only the raw rows loaded since the last build are parsed (macros/changed_keys.sql).
-- One row per Actions workflow run, at its latest attempt (one-to-one with raw.github__workflow_runs).

with source as (

    -- one parse per record into the fields used (a record is ~15 kB: see stg_github__pulls)
    select
        repo,
        id,
        updated_at,
        from_json(record, '{
            "workflow_id": "BIGINT", "name": "VARCHAR", "path": "VARCHAR", "event": "VARCHAR",
            "head_branch": "VARCHAR", "head_sha": "VARCHAR", "status": "VARCHAR", "conclusion": "VARCHAR",
            "run_attempt": "BIGINT", "repository": {"default_branch": "VARCHAR"}, "created_at": "VARCHAR",
            "run_started_at": "VARCHAR"
        }') as r,
        _loaded_at
    from {{ source('github', 'workflow_runs') }}
    where {{ changed_rows_filter() }}

)

select
    repo,
    id as run_id,
    r.workflow_id as workflow_id,
    r.name as workflow_name,
    -- `path` is `.github/workflows/deploy.yml@main` (or `@refs/pull/…`): the file without the ref
    split_part(r.path, '@', 1) as workflow_path,
    r.event as event,
    r.head_branch as head_branch,
    r.head_sha as head_sha,
    r.status as status,
    r.conclusion as conclusion,
    r.run_attempt as run_attempt,
    r.repository.default_branch as default_branch,
    {{ api_timestamp("r.created_at") }} as created_at,
    updated_at,
    {{ api_timestamp("r.run_started_at") }} as run_started_at,
    _loaded_at
from source
