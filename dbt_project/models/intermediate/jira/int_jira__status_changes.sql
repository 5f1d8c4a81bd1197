-- A table, not a view: several models and their tests read it, and recomputing it for each cost more than
-- the whole build of it once.
{{ config(materialized='table', tags=['every_run']) }}

-- Every status an issue was in, in order, from its full changelog: one row for the status it was created in
-- (at `created`: the `from` of its first status change, else its current status) and one per status change
-- up to as_of. Categories come from the statuses stream by status id, so a renamed status (same id, new
-- name) keeps its category; a status the stream does not list falls back to the issue's current category
-- when it is the issue's current status, else NULL (it then never counts as started, done or open work).
-- `valid_to` is the next change (NULL: still in it at as_of). An "entry" into a category is a change whose
-- previous status was in another category (In Progress -> In Review is not a new entry into indeterminate).

with issues as (

    select issue_id, created_at, status_id, status_category
    from {{ ref('stg_jira__issues') }}
    where created_at <= {{ as_of() }}

),

statuses as (

    select status_id, status_category
    from {{ ref('stg_jira__statuses') }}

),

items as (

    -- one row per field change, with its position in the entry
    select
        changelogs.issue_id,
        changelogs.history_id,
        changelogs.created_at,
        cast(item.key as bigint) as item_index,
        item.value as item
    from {{ ref('stg_jira__issue_changelogs') }} as changelogs
    inner join issues
        on changelogs.issue_id = issues.issue_id
    cross join {{ json_elements('changelogs.items') }} as item

),

status_items as (

    select
        issue_id,
        created_at as changed_at,
        {{ json_text('item', 'from') }} as from_status_id,
        {{ json_text('item', 'to') }} as to_status_id,
        row_number() over (
            partition by issue_id
            order by created_at, {{ try_cast('history_id', 'bigint') }}, history_id, item_index
        ) as seq
    from items
    -- parenthesised: unparenthesised `->>` inside AND/OR binds wrongly in DuckDB 1.5
    where ({{ json_text('item', 'fieldId') }}) = 'status'
       or (({{ json_text('item', 'fieldId') }}) is null and lower({{ json_text('item', 'field') }}) = 'status' and ({{ json_text('item', 'fieldtype') }}) = 'jira')

),

creations as (

    -- the first change's `from` is the status the issue was created in, whatever happened after as_of
    select
        issues.issue_id,
        issues.created_at as changed_at,
        cast(0 as bigint) as seq,
        cast(null as varchar) as from_status_id,
        coalesce(first_changes.from_status_id, issues.status_id) as to_status_id
    from issues
    left join status_items as first_changes
        on issues.issue_id = first_changes.issue_id
        and first_changes.seq = 1

),

changes as (

    select issue_id, changed_at, seq, from_status_id, to_status_id from creations
    union all
    select issue_id, changed_at, seq, from_status_id, to_status_id
    from status_items
    where changed_at <= {{ as_of() }}

),

categorized as (

    select
        changes.issue_id,
        changes.changed_at,
        changes.seq,
        changes.from_status_id,
        changes.to_status_id,
        coalesce(
            statuses.status_category,
            case when changes.to_status_id = issues.status_id then issues.status_category end
        ) as to_category
    from changes
    inner join issues
        on changes.issue_id = issues.issue_id
    left join statuses
        on changes.to_status_id = statuses.status_id

),

sequenced as (

    select
        *,
        lag(to_category) over (partition by issue_id order by seq) as from_category,
        lead(changed_at) over (partition by issue_id order by seq) as valid_to
    from categorized

)

select
    issue_id,
    seq,
    changed_at,
    valid_to,
    from_status_id,
    to_status_id,
    from_category,
    to_category,
    coalesce(to_category = 'indeterminate' and from_category is distinct from 'indeterminate', false)
        as is_entry_to_indeterminate,
    coalesce(to_category = 'done' and from_category is distinct from 'done', false) as is_entry_to_done,
    coalesce(from_category = 'done' and to_category is distinct from 'done', false) as is_exit_from_done
from sequenced
