-- The id reconciliation (one row per issue id ever listed): `reconciled_at` is the newest reconciliation
-- that listed the id. Ids whose reconciled_at is older than the newest reconciliation have disappeared.

with source as (

    select id, reconciled_at, _loaded_at
    from {{ source('jira', 'issue_ids') }}

),

renamed as (

    select
        id as issue_id,
        reconciled_at,
        _loaded_at

    from source

)

select * from renamed
