-- Workflow statuses (one row per status id): the current name and the status category. A renamed status
-- keeps its id, so joining changelog entries on the id gives the right category whatever name they show.

with source as (

    select id, name, category, record, _loaded_at
    from {{ source('jira', 'statuses') }}

),

renamed as (

    select
        id as status_id,
        coalesce(name, {{ json_text('record', 'name') }}) as status_name,
        coalesce(category, {{ json_text('record', 'statusCategory.key') }}) as status_category,
        _loaded_at

    from source

)

select * from renamed
