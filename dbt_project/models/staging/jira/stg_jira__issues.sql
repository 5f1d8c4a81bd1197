{{ changed_rows_config('issue_id') }}
-- Incremental: only the raw rows loaded since the last build are parsed (macros/changed_keys.sql).
with source as (

    select id, updated, record, _loaded_at
    from {{ source('jira', 'issues') }}
    where {{ changed_rows_filter() }}

),

renamed as (

    select
        id as issue_id,
        {{ json_text('record', 'key') }} as issue_key,
        {{ json_text('record', 'fields.project.key') }} as project_key,
        {{ json_text('record', 'fields.project.name') }} as project_name,
        {{ json_text('record', 'fields.summary') }} as summary,
        {{ json_text('record', 'fields.issuetype.name') }} as issue_type,
        {{ json_text('record', 'fields.status.name') }} as status_name,
        {{ json_text('record', 'fields.status.statusCategory.key') }} as status_category,
        {{ json_text('record', 'fields.status.id') }} as status_id,
        {{ json_text('record', 'fields.project.id') }} as project_id,
        -- entries the issue's changelog had when read (embedded changelog `total`; NULL without expand)
        cast({{ json_text('record', 'changelog.total') }} as bigint) as changelog_total,
        {{ json_text('record', 'fields.priority.name') }} as priority_name,
        -- the resolution's name (Done, Won't Do, ...; NULL while unresolved, or when read before the field was asked)
        {{ json_text('record', 'fields.resolution.name') }} as resolution_name,
        -- the fix versions as read (a JSON array of {id, name, released, releaseDate 'YYYY-MM-DD', ...}; NULL when
        -- read before the field was asked)
        {{ json_value('record', 'fields.fixVersions') }} as fix_versions,
        {{ json_array_texts('record', 'fields.labels') }} as labels,
        -- Jira renders `2024-01-02T10:11:12.000+0000` (offset without colon); the cast handles it
        {{ api_timestamp(json_text('record', 'fields.created')) }} as created_at,
        updated as updated_at,
        {{ api_timestamp(json_text('record', 'fields.resolutiondate')) }} as resolved_at,
        _loaded_at

    from source

)

select * from renamed
