with source as (

    select id, record, _loaded_at
    from {{ source('pagerduty', 'services') }}

),

renamed as (

    select
        id as service_id,
        coalesce(record->>'$.name', record->>'$.summary') as service_name,
        record->>'$.status' as status,
        json_extract_string(record, '$.teams[*].id') as pagerduty_team_ids,
        json_extract_string(record, '$.teams[*].summary') as pagerduty_team_names,
        _loaded_at

    from source

)

select * from renamed
