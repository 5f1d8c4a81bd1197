with source as (

    select id, name, record, _loaded_at
    from {{ source('pagerduty', 'teams') }}

),

renamed as (

    select
        id as team_id,
        coalesce(name, {{ json_text('record', 'name') }}, {{ json_text('record', 'summary') }}) as team_name,
        {{ json_text('record', 'description') }} as description,
        _loaded_at

    from source

)

select * from renamed
