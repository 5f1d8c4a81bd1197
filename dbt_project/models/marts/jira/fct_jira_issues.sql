{{ config(tags=['every_run']) }}
-- One row per Jira issue id created up to as_of, as it stood at as_of where the API lets us replay it: status
-- from the changelog, priority, issue type and resolution from the changelog (int_jira__issue_fields_as_of),
-- deletion from the reconciliations up to as_of. Key, project and summary are today's (an issue
-- moved to another project keeps its id and shows its current key and project: docs/metrics.md "Things to know").
-- Flow definitions: docs/metrics.md "Jira flow".
--   first_in_progress_at  first entry into an `indeterminate` status (full changelog)
--   last_done_at          last entry into a `done` status (a reopened and re-closed issue: the re-close)
--   cycle_time_s          last_done_at - first_in_progress_at, for issues in `done` at as_of; NULL when the
--                         issue never entered `indeterminate` (never started, or closed straight from `new`)
--   lead_time_s           resolutiondate - created; NULL while unresolved (or resolved after as_of)
--   reopen_count          changes from a `done` status to a status of another category
--   is_deleted            missing from the newest id reconciliation up to as_of although its last update is
--                         older than it (deleted in Jira, or moved out of the configured projects)

with issues as (

    select *
    from {{ ref('stg_jira__issues') }}
    where created_at <= {{ as_of() }}

),

flow as (

    select
        issue_id,
        min(changed_at) filter (where is_entry_to_indeterminate) as first_in_progress_at,
        max(changed_at) filter (where is_entry_to_done) as last_done_at,
        count(*) filter (where is_exit_from_done) as reopen_count,
        {{ arg_max('to_category', 'seq') }} as category_at_as_of,
        {{ arg_max('to_status_id', 'seq') }} as status_id_at_as_of
    from {{ ref('int_jira__status_changes') }}
    group by issue_id

),

statuses as (

    select status_id, status_name, status_category
    from {{ ref('stg_jira__statuses') }}

),

projects as (

    select project_id, project_key
    from {{ ref('stg_jira__projects') }}

),

project_teams as (

    select project_key, team
    from {{ ref('stg_jira__project_teams') }}

),

reconciliation as (

    -- the newest reconciliation by as_of: an issue deleted after as_of still existed then (ids listed again by a
    -- later reconciliation carry its time, so before it there may be none: nothing is judged deleted)
    select max(reconciled_at) as last_reconciled_at
    from {{ ref('stg_jira__issue_ids') }}
    where reconciled_at <= {{ as_of() }}

),

listed as (

    -- listed by that reconciliation or a later one
    select issue_ids.issue_id
    from {{ ref('stg_jira__issue_ids') }} as issue_ids
    inner join reconciliation
        on issue_ids.reconciled_at >= reconciliation.last_reconciled_at

),

joined as (

    select
        issues.issue_id,
        issues.issue_key as key,
        -- the projects stream has the current key of the issue's project (by id), the record the key it was read with
        coalesce(projects.project_key, issues.project_key) as project,
        case when fields.issuetype_changed then fields.issuetype_at_as_of else issues.issue_type end as issue_type,
        case when fields.priority_changed then fields.priority_at_as_of else issues.priority_name end as priority,
        -- the status at as_of (the changelog's), its name from the statuses stream, or the record's when it is the
        -- current status
        coalesce(
            statuses.status_name,
            case when flow.status_id_at_as_of is not distinct from issues.status_id then issues.status_name end
        ) as status,
        coalesce(flow.category_at_as_of, statuses.status_category,
                 case when flow.status_id_at_as_of is null then issues.status_category end) as status_category,
        issues.created_at,
        -- resolved at as_of: by the last resolution change up to as_of when there is one (set: resolved then, at
        -- that change; cleared: unresolved), else by resolutiondate when it is by as_of
        case
            when fields.resolution_changed_at is not null
                then case when fields.resolution_at_as_of is not null then fields.resolution_changed_at end
            when issues.resolved_at <= {{ as_of() }} then issues.resolved_at
        end as resolved_at,
        flow.first_in_progress_at,
        flow.last_done_at,
        flow.category_at_as_of,
        coalesce(flow.reopen_count, 0) as reopen_count,
        coalesce(
            reconciliation.last_reconciled_at is not null
            and issues.updated_at < reconciliation.last_reconciled_at
            and listed.issue_id is null,
            false
        ) as is_deleted
    from issues
    left join flow
        on issues.issue_id = flow.issue_id
    left join statuses
        on coalesce(flow.status_id_at_as_of, issues.status_id) = statuses.status_id
    left join {{ ref('int_jira__issue_fields_as_of') }} as fields
        on issues.issue_id = fields.issue_id
    left join projects
        on issues.project_id = projects.project_id
    cross join reconciliation
    left join listed
        on issues.issue_id = listed.issue_id

)

select
    joined.issue_id,
    joined.key,
    joined.project,
    coalesce(project_teams.team, 'unassigned') as team,
    joined.issue_type,
    joined.priority,
    joined.status,
    joined.status_category,
    joined.created_at,
    joined.resolved_at,
    joined.first_in_progress_at,
    joined.last_done_at,
    case
        when joined.category_at_as_of = 'done'
            and joined.first_in_progress_at is not null
            and joined.last_done_at >= joined.first_in_progress_at
            then {{ seconds_between('joined.first_in_progress_at', 'joined.last_done_at') }}
    end as cycle_time_s,
    case
        when joined.resolved_at is not null
            then {{ seconds_between('joined.created_at', 'joined.resolved_at') }}
    end as lead_time_s,
    joined.reopen_count,
    joined.is_deleted,
    {{ date_key(to_local_date('joined.created_at')) }} as date_key,
    {{ dim_key('jira_project', 'joined.project') }} as jira_project_key,
    {{ dim_key('team', "coalesce(project_teams.team, 'unassigned')") }} as team_key
from joined
left join project_teams
    on joined.project = project_teams.project_key
