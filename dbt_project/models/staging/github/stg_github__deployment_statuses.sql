-- One row per deployment status (one-to-one with raw.github__deployment_statuses), keyed by GitHub's global node
-- id: GraphQL's DeploymentStatus has no integer id. Rows loaded from REST before carry it as `node_id` too (the
-- raw column was filled from their records when it was added), so a status read by both APIs is one row.

with source as (

    select repo, deployment_id, node_id, record, _loaded_at
    from {{ source('github', 'deployment_statuses') }}

)

select
    repo,
    deployment_id,
    node_id as status_id,
    lower({{ json_text('record', 'state') }}) as state,
    {{ json_text('record', 'environment') }} as environment,
    {{ api_timestamp(json_text('record', 'created_at')) }} as created_at,
    _loaded_at
from source
