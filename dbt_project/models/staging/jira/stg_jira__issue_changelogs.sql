{{ changed_rows_config(['issue_id', 'history_id']) }}
-- Incremental: only the raw rows loaded since the last build are parsed (macros/changed_keys.sql).
-- One row per changelog entry (history) of an issue, one-to-one with raw.jira__issue_changelogs.
-- `items` stays JSON (an array of {field, fieldtype, fieldId, from, fromString, to, toString});
-- int_jira__status_changes unnests the status items.

with source as (

    select issue_id, id, created, record, _loaded_at
    from {{ source('jira', 'issue_changelogs') }}
    where {{ changed_rows_filter() }}

),

renamed as (

    select
        issue_id,
        id as history_id,
        -- Jira renders the change time in the API user's zone (`...-0800`); the cast keeps the instant
        coalesce(created, {{ api_timestamp(json_text('record', 'created')) }}) as created_at,
        {{ json_text('record', 'author.accountId') }} as author_account_id,
        {{ json_value('record', 'items') }} as items,
        _loaded_at

    from source

)

select * from renamed
