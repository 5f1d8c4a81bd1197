{{ config(tags=['every_run']) }}
-- End-to-end lead time per scope and reporting day, dense: every scope (org, each team, each project) x every day
-- from the local day of the first issue created to run_date. Definitions: docs/metrics.md "End-to-end lead time";
-- the issues: fct_issue_delivery.
-- On the day an issue is delivered (fct_issue_delivery.delivered_day):
--   idea_to_deploy_s_p50/p85, e2e_sample_size          over the delivered issues (created -> delivered)
--   start_to_deploy_s_p50/p85, start_to_deploy_sample_size  over those that were ever in progress
--   created_after_deploy                               delivered issues whose idea span was clamped to 0
-- On the day an eligible issue was last moved to done (fct_issue_delivery.done_day):
--   done_eligible, done_linked, link_coverage_pct      coverage = 100 x done_linked / done_eligible (NULL when 0)
--   pending, deploy_history_missing, late_links        its state at as_of
-- Percentiles are exact (quantile_cont); an empty sample gives NULL with sample size 0.

with issues as (

    select *
    from {{ ref('fct_issue_delivery') }}
    -- a moved issue counts in its current project; deleted issues are no delivery (never eligible)

),

jira_issues as (

    select project, team, created_at
    from {{ ref('fct_jira_issues') }}
    where not is_deleted

),

{{ jira_project_scope_ctes('jira_issues') }},

days as (

    {{ day_spine('first_day', 'last_day', from_clause='bounds') }}

),

scoped_issues as (

    select scope_members.scope_type, scope_members.scope_id, issues.*
    from issues
    inner join scope_members
        on issues.project = scope_members.project

),

delivered_stats as (

    select
        scope_type,
        scope_id,
        delivered_day as day,
        {{ quantile_cont('idea_to_deploy_s', 0.5) }} as idea_to_deploy_s_p50,
        {{ quantile_cont('idea_to_deploy_s', 0.85) }} as idea_to_deploy_s_p85,
        count(*) as e2e_sample_size,
        {{ quantile_cont('start_to_deploy_s', 0.5) }} as start_to_deploy_s_p50,
        {{ quantile_cont('start_to_deploy_s', 0.85) }} as start_to_deploy_s_p85,
        count(start_to_deploy_s) as start_to_deploy_sample_size,
        count(*) filter (where is_created_after_deploy) as created_after_deploy
    from scoped_issues
    where delivery_status = 'delivered'
    group by 1, 2, 3

),

done_stats as (

    select
        scope_type,
        scope_id,
        done_day as day,
        count(*) as done_eligible,
        count(*) filter (where has_linked_pull_request) as done_linked,
        count(*) filter (where delivery_status = 'pending') as pending,
        count(*) filter (where delivery_status = 'unknown') as deploy_history_missing,
        sum(late_links) as late_links
    from scoped_issues
    where is_eligible
    group by 1, 2, 3

)

select
    days.day,
    scopes.scope_type,
    scopes.scope_id,
    cast(delivered_stats.idea_to_deploy_s_p50 as double precision) as idea_to_deploy_s_p50,
    cast(delivered_stats.idea_to_deploy_s_p85 as double precision) as idea_to_deploy_s_p85,
    coalesce(delivered_stats.e2e_sample_size, 0) as e2e_sample_size,
    cast(delivered_stats.start_to_deploy_s_p50 as double precision) as start_to_deploy_s_p50,
    cast(delivered_stats.start_to_deploy_s_p85 as double precision) as start_to_deploy_s_p85,
    coalesce(delivered_stats.start_to_deploy_sample_size, 0) as start_to_deploy_sample_size,
    coalesce(delivered_stats.created_after_deploy, 0) as created_after_deploy,
    coalesce(done_stats.done_eligible, 0) as done_eligible,
    coalesce(done_stats.done_linked, 0) as done_linked,
    case when done_stats.done_eligible > 0
        then 100.0 * done_stats.done_linked / done_stats.done_eligible end as link_coverage_pct,
    coalesce(done_stats.pending, 0) as pending,
    coalesce(done_stats.deploy_history_missing, 0) as deploy_history_missing,
    cast(coalesce(done_stats.late_links, 0) as bigint) as late_links,
    {{ date_key('days.day') }} as date_key,
    {{ scope_keys('scopes.scope_type', 'scopes.scope_id', ['jira_project']) }}
from days
cross join scopes
left join delivered_stats
    on delivered_stats.day = days.day
    and delivered_stats.scope_type = scopes.scope_type
    and delivered_stats.scope_id = scopes.scope_id
left join done_stats
    on done_stats.day = days.day
    and done_stats.scope_type = scopes.scope_type
    and done_stats.scope_id = scopes.scope_id
