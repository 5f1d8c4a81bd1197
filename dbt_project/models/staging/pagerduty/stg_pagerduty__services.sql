with source as (

    select id, record, _loaded_at
    from {{ source('pagerduty', 'services') }}

),

renamed as (

    select
        id as service_id,
        coalesce({{ json_text('record', 'name') }}, {{ json_text('record', 'summary') }}) as service_name,
        {{ json_text('record', 'status') }} as status,
        {{ json_array_texts('record', 'teams', 'id') }} as pagerduty_team_ids,
        {{ json_array_texts('record', 'teams', 'summary') }} as pagerduty_team_names,
        _loaded_at

    from source

)

select * from renamed
