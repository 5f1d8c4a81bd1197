with source as (

    select id, name, record, _loaded_at
    from {{ source('pagerduty', 'teams') }}

),

renamed as (

    select
        id as team_id,
        coalesce(name, record->>'$.name', record->>'$.summary') as team_name,
        record->>'$.description' as description,
        _loaded_at

    from source

)

select * from renamed
