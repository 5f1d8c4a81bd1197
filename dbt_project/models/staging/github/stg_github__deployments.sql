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
    -- GraphQL: `ref { name }`, null for a deployment made from a SHA; REST: the ref or SHA as a string.
    case
        when json_type(record, '$.ref') = 'OBJECT' then record->>'$.ref.name'
        when json_type(record, '$.ref') = 'NULL' then null
        else record->>'$.ref'
    end as ref,
    record->>'$.task' as task,
    record->>'$.creator.login' as creator_login,
    {{ api_timestamp("record->>'$.created_at'") }} as created_at,
    updated_at,
    _loaded_at
from source
