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
        record->>'$.key' as issue_key,
        record->>'$.fields.project.key' as project_key,
        record->>'$.fields.project.name' as project_name,
        record->>'$.fields.summary' as summary,
        record->>'$.fields.issuetype.name' as issue_type,
        record->>'$.fields.status.name' as status_name,
        record->>'$.fields.status.statusCategory.key' as status_category,
        record->>'$.fields.status.id' as status_id,
        record->>'$.fields.project.id' as project_id,
        -- entries the issue's changelog had when read (embedded changelog `total`; NULL without expand)
        cast(record->>'$.changelog.total' as bigint) as changelog_total,
        record->>'$.fields.priority.name' as priority_name,
        -- the resolution's name (Done, Won't Do, ...; NULL while unresolved, or when read before the field was asked)
        record->>'$.fields.resolution.name' as resolution_name,
        -- the fix versions as read (a JSON array of {id, name, released, releaseDate 'YYYY-MM-DD', ...}; NULL when
        -- read before the field was asked)
        record->'$.fields.fixVersions' as fix_versions,
        json_extract_string(record, '$.fields.labels[*]') as labels,
        -- Jira renders `2024-01-02T10:11:12.000+0000` (offset without colon); the cast handles it
        {{ api_timestamp("record->>'$.fields.created'") }} as created_at,
        updated as updated_at,
        {{ api_timestamp("record->>'$.fields.resolutiondate'") }} as resolved_at,
        _loaded_at

    from source

)

select * from renamed
