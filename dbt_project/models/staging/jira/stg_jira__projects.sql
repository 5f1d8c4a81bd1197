-- Jira projects (one row per project id) with their current key and name.

with source as (

    select id, key, name, record, _loaded_at
    from {{ source('jira', 'projects') }}

),

renamed as (

    select
        id as project_id,
        coalesce(key, {{ json_text('record', 'key') }}) as project_key,
        coalesce(name, {{ json_text('record', 'name') }}) as project_name,
        _loaded_at

    from source

)

select * from renamed
