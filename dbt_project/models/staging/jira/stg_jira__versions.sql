{{ changed_rows_config('version_id') }}
-- The versions of the release-based projects (one row per version id), as the versions stream last read them: the
-- stream reads them whole every run, so `released` and `releaseDate` here are never older than the last run, unlike
-- the copies embedded in the issues' fixVersions. Incremental: only raw rows loaded since the last build are parsed.
with source as (

    select id, project_id, name, released, release_date, record, _loaded_at
    from {{ source('jira', 'versions') }}
    where {{ changed_rows_filter() }}

),

renamed as (

    select
        id as version_id,
        coalesce(project_id, {{ json_text('record', 'projectId') }}) as project_id,
        coalesce(name, {{ json_text('record', 'name') }}) as version_name,
        cast(coalesce(released, {{ json_text('record', 'released') }}) as boolean) as is_released,
        -- a day, 'YYYY-MM-DD' (the landing guard refuses anything else)
        cast(coalesce(release_date, {{ json_text('record', 'releaseDate') }}) as date) as release_date,
        coalesce(cast({{ json_text('record', 'archived') }} as boolean), false) as is_archived,
        _loaded_at

    from source

)

select * from renamed
