{{ config(materialized='table', tags=['every_run']) }}
-- The fields of an issue that its changelog can replay, as they stood at as_of: a replay of a past day shows the
-- priority, issue type and resolution the issue had that day, not today's (status is replayed by
-- int_jira__status_changes). One row per issue with at least one change of such a field. Per field: the
-- `toString` of the last change up to as_of and when it was made; with none by then, the `fromString` of the first
-- change after it (what it was before that change); fct_jira_issues falls back to the issue's current value for
-- issues and fields without a row or a change. A resolution set by as_of was set when its last change was made
-- (Jira's resolutiondate), so an issue resolved on the day and reopened since is still resolved on that day.

{%- set fields = ['priority', 'issuetype', 'resolution'] %}

with entries as (

    -- only entries that can hold such a change are unnested (the text test is a cheap superset of the JSON one)
    select issue_id, history_id, created_at, items
    from {{ ref('stg_jira__issue_changelogs') }}
    where {% for field in fields %}strpos(cast(items as varchar), '{{ field }}') > 0{{ " or " if not loop.last }}{% endfor %}

),

items as (

    select
        entries.issue_id,
        entries.history_id,
        entries.created_at,
        item.value as item,
        item.key as item_index
    from entries, {{ json_elements('entries.items') }} as item

),

field_changes as (

    select
        issue_id,
        coalesce({{ json_text('item', 'fieldId') }}, lower({{ json_text('item', 'field') }})) as field,
        created_at,
        {{ json_text('item', 'fromString') }} as from_string,
        {{ json_text('item', 'toString') }} as to_string,
        created_at <= {{ as_of() }} as by_as_of,
        row_number() over (
            partition by issue_id, coalesce({{ json_text('item', 'fieldId') }}, lower({{ json_text('item', 'field') }}))
            order by created_at, {{ try_cast('history_id', 'bigint') }}, history_id, {{ try_cast('item_index', 'bigint') }}
        ) as seq
    from items
    where coalesce({{ json_text('item', 'fieldId') }}, lower({{ json_text('item', 'field') }})) in ({{ "'" ~ fields | join("', '") ~ "'" }})

),

values_at_as_of as (

    select
        issue_id,
        field,
        -- (a change to no value, e.g. a priority cleared, is a value too: NULL)
        case
            -- arg_max_null / arg_min_null: a value cleared (NULL) is the value, plain arg_max would skip it
            when bool_or(by_as_of) then {{ arg_max('to_string', 'seq', where='by_as_of', nulls=true) }}
            else {{ arg_min('from_string', 'seq', where='not by_as_of', nulls=true) }}
        end as value_at_as_of,
        max(created_at) filter (where by_as_of) as changed_at
    from field_changes
    group by issue_id, field

)

select
    issue_id,
    {%- for field in fields %}
    max(value_at_as_of) filter (where field = '{{ field }}') as {{ field }}_at_as_of,
    count(*) filter (where field = '{{ field }}') > 0 as {{ field }}_changed,
    max(changed_at) filter (where field = '{{ field }}') as {{ field }}_changed_at{{ "," if not loop.last }}
    {%- endfor %}
from values_at_as_of
group by issue_id
