-- One row per GitHub deployment, every environment (one-to-one with raw.github__deployments).

with source as (

    select repo, id, updated_at, record, _loaded_at
    from {{ source('github', 'deployments') }}

)

select
    repo,
    id as deployment_id,
    record->>'$.environment' as environment,
    record->>'$.sha' as sha,
    record->>'$.ref' as ref,
    record->>'$.task' as task,
    record->>'$.creator.login' as creator_login,
    {{ api_timestamp("record->>'$.created_at'") }} as created_at,
    updated_at,
    _loaded_at
from source
