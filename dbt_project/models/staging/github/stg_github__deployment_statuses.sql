-- One row per deployment status (one-to-one with raw.github__deployment_statuses).

with source as (

    select repo, deployment_id, id, record, _loaded_at
    from {{ source('github', 'deployment_statuses') }}

)

select
    repo,
    deployment_id,
    id as status_id,
    lower(record->>'$.state') as state,
    record->>'$.environment' as environment,
    {{ api_timestamp("record->>'$.created_at'") }} as created_at,
    _loaded_at
from source
