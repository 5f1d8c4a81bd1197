{{ config(tags=['every_run']) }}
-- Jira delivery flow per scope and reporting day, dense: every scope (org, each team, each project) x every
-- day from the local day of the first issue created to run_date. Definitions: docs/metrics.md "Jira flow".
-- Deleted issues (fct_jira_issues.is_deleted) are left out; a moved issue counts in its current project.
--   created / resolved     issues created / resolved (resolutiondate) that local day
--   throughput             entries into a `done` status that day (a reopened issue closed again counts again)
--   wip_end_of_day         issues in an `indeterminate` status at the end of the day (on the last day: at as_of)
--   cycle_time_s_p50/p85   over issues whose last entry into `done` is that day (fct_jira_issues.cycle_time_s)
--   lead_time_s_p50        over issues resolved that day (fct_jira_issues.lead_time_s)
--   bug_backlog            issues of a type in var jira_bug_issue_types not in a `done` status at the end of the day
-- Percentiles are exact (quantile_cont); an empty sample gives NULL with sample size 0.

with issues as (

    select issue_id, project, team, issue_type, created_at, resolved_at, last_done_at, cycle_time_s, lead_time_s
    from {{ ref('fct_jira_issues') }}
    where not is_deleted

),

{{ jira_project_scope_ctes('issues') }},

spine as (

    {{ day_spine('first_day', 'last_day', from_clause='bounds') }}

),

days as (

    select
        day,
        -- the end of the day, or as_of on a day that has not ended yet
        least({{ local_midnight_utc('day + 1') }}, {{ as_of() }}) as measured_at
    from spine

),

scoped_issues as (

    select scope_members.scope_type, scope_members.scope_id, issues.*
    from issues
    inner join scope_members
        on issues.project = scope_members.project

),

changes as (

    select changes.issue_id, changes.changed_at, changes.valid_to, changes.to_category, changes.is_entry_to_done
    from {{ ref('int_jira__status_changes') }} as changes
    inner join issues
        on changes.issue_id = issues.issue_id

),

created_counts as (

    select scope_type, scope_id, {{ to_local_date('created_at') }} as day, count(*) as created
    from scoped_issues
    group by 1, 2, 3

),

resolved_stats as (

    select
        scope_type,
        scope_id,
        {{ to_local_date('resolved_at') }} as day,
        count(*) as resolved,
        {{ quantile_cont('lead_time_s', 0.5) }} as lead_time_s_p50,
        count(lead_time_s) as lead_time_sample_size
    from scoped_issues
    where resolved_at is not null
    group by 1, 2, 3

),

cycle_stats as (

    select
        scope_type,
        scope_id,
        {{ to_local_date('last_done_at') }} as day,
        {{ quantile_cont('cycle_time_s', 0.5) }} as cycle_time_s_p50,
        {{ quantile_cont('cycle_time_s', 0.85) }} as cycle_time_s_p85,
        count(*) as cycle_time_sample_size
    from scoped_issues
    where cycle_time_s is not null
    group by 1, 2, 3

),

throughput_counts as (

    select scoped_issues.scope_type, scoped_issues.scope_id, {{ to_local_date('changes.changed_at') }} as day,
        count(*) as throughput
    from changes
    inner join scoped_issues
        on changes.issue_id = scoped_issues.issue_id
    where changes.is_entry_to_done
    group by 1, 2, 3

),

states_at_day_end as (

    -- the status period each issue is in at each day's measuring instant (a change exactly at midnight
    -- belongs to the next day)
    select changes.issue_id, days.day, changes.to_category
    from changes
    inner join days
        on changes.changed_at < days.measured_at
        and (changes.valid_to is null or changes.valid_to >= days.measured_at)

),

end_of_day_counts as (

    select
        scoped_issues.scope_type,
        scoped_issues.scope_id,
        states_at_day_end.day,
        count(*) filter (where states_at_day_end.to_category = 'indeterminate') as wip_end_of_day,
        count(*) filter (
            where states_at_day_end.to_category is distinct from 'done'
              and {{ is_jira_bug_type('scoped_issues.issue_type') }}
        ) as bug_backlog
    from states_at_day_end
    inner join scoped_issues
        on states_at_day_end.issue_id = scoped_issues.issue_id
    group by 1, 2, 3

)

select
    days.day,
    scopes.scope_type,
    scopes.scope_id,
    coalesce(created_counts.created, 0) as created,
    coalesce(resolved_stats.resolved, 0) as resolved,
    coalesce(throughput_counts.throughput, 0) as throughput,
    coalesce(end_of_day_counts.wip_end_of_day, 0) as wip_end_of_day,
    cast(cycle_stats.cycle_time_s_p50 as double precision) as cycle_time_s_p50,
    cast(cycle_stats.cycle_time_s_p85 as double precision) as cycle_time_s_p85,
    cast(resolved_stats.lead_time_s_p50 as double precision) as lead_time_s_p50,
    coalesce(end_of_day_counts.bug_backlog, 0) as bug_backlog,
    coalesce(cycle_stats.cycle_time_sample_size, 0) as cycle_time_sample_size,
    coalesce(resolved_stats.lead_time_sample_size, 0) as lead_time_sample_size,
    {{ date_key('days.day') }} as date_key,
    {{ scope_keys('scopes.scope_type', 'scopes.scope_id', ['jira_project']) }}
from days
cross join scopes
left join created_counts
    on created_counts.day = days.day
    and created_counts.scope_type = scopes.scope_type
    and created_counts.scope_id = scopes.scope_id
left join resolved_stats
    on resolved_stats.day = days.day
    and resolved_stats.scope_type = scopes.scope_type
    and resolved_stats.scope_id = scopes.scope_id
left join cycle_stats
    on cycle_stats.day = days.day
    and cycle_stats.scope_type = scopes.scope_type
    and cycle_stats.scope_id = scopes.scope_id
left join throughput_counts
    on throughput_counts.day = days.day
    and throughput_counts.scope_type = scopes.scope_type
    and throughput_counts.scope_id = scopes.scope_id
left join end_of_day_counts
    on end_of_day_counts.day = days.day
    and end_of_day_counts.scope_type = scopes.scope_type
    and end_of_day_counts.scope_id = scopes.scope_id
