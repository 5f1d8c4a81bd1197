-- One row per GitHub deployment, every environment (one-to-one with raw.github__deployments).

with source as (

    select repo, id, updated_at, record, _loaded_at
    from {{ source('github', 'deployments') }}

)

select
    repo,
    id as deployment_id,
    {{ json_text('record', 'environment') }} as environment,
    {{ json_text('record', 'sha') }} as sha,
    -- GraphQL: `ref { name }`, null for a deployment made from a SHA; REST: the ref or SHA as a string.
    case
        when {{ json_type_at('record', 'ref') }} = 'OBJECT' then {{ json_text('record', 'ref.name') }}
        when {{ json_type_at('record', 'ref') }} = 'NULL' then null
        else {{ json_text('record', 'ref') }}
    end as ref,
    {{ json_text('record', 'task') }} as task,
    {{ json_text('record', 'creator.login') }} as creator_login,
    {{ api_timestamp(json_text('record', 'created_at')) }} as created_at,
    updated_at,
    _loaded_at
from source
