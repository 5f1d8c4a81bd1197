{{ config(tags=['every_run']) }}
-- End-to-end lead time, one row per Jira issue of fct_jira_issues (created by as_of, as it stood at as_of): from the
-- idea (the issue's creation) to its code running in production. Definitions: docs/metrics.md "End-to-end lead
-- time"; the links: int_jira_github_links.
--   is_eligible         not deleted, in a `done` status at as_of, resolution not in lead_time_e2e_excluded_resolutions
--                       and type not in lead_time_e2e_excluded_issue_types (case-insensitive)
--   linked PRs          linked pull requests merged by last_done_at + lead_time_e2e_late_link_grace_s; later ones are
--                       follow-ups, counted in late_links and ignored (they would stretch the span)
--   delivered_at        the latest deployed_at of the linked PRs (an idea is delivered when all of its code runs);
--                       for a project in lead_time_e2e_release_projects, the end of the local day of the earliest
--                       released fix version's releaseDate (flag and date from stg_jira__versions)
--   delivery_status     delivered | pending (a linked PR not deployed yet; a release project without a release by
--                       as_of) | unknown (a linked PR merged before its repository's first known deployment: its
--                       deployed_at would be that first deployment, perhaps months later) | unlinked (no linked PR) |
--                       not_eligible
-- Spans made negative (a ticket written after the work) are clamped to 0 and flagged.
-- Which fix versions an issue has is as the issue was last read, their released flag and releaseDate as the versions
-- stream last read them (Jira keeps no history of either); status, resolution and issue type are replayed. A version
-- released after as_of has a releaseDate after it, so the day-end rule keeps it undelivered in a replay.

with issues as (

    select
        fct.issue_id,
        fct.key,
        fct.project,
        fct.team,
        fct.issue_type,
        case when fields.resolution_changed then fields.resolution_at_as_of else staged.resolution_name end
            as resolution,
        fct.status_category,
        fct.created_at,
        fct.first_in_progress_at,
        fct.last_done_at,
        fct.is_deleted,
        staged.fix_versions,
        {{ array_has(lead_time_e2e_release_projects(), 'fct.project') }} as is_release_based
    from {{ ref('fct_jira_issues') }} as fct
    inner join {{ ref('stg_jira__issues') }} as staged
        on fct.issue_id = staged.issue_id
    left join {{ ref('int_jira__issue_fields_as_of') }} as fields
        on fct.issue_id = fields.issue_id

),

eligibility as (

    select
        *,
        coalesce(
            not is_deleted
            and status_category = 'done'
            and last_done_at is not null
            and not coalesce({{ array_has(lead_time_e2e_excluded_resolutions(), 'lower(resolution)') }}, false)
            and not coalesce({{ array_has(lead_time_e2e_excluded_issue_types(), 'lower(issue_type)') }}, false),
            false
        ) as is_eligible
    from issues

),

first_deployments as (

    select repo, min(deployed_at) as first_deployed_at
    from {{ ref('int_dora_deployments') }}
    group by repo

),

issue_pulls as (

    select
        links.issue_id,
        prs.merged_at,
        prs.deployed_at,
        coalesce(prs.merged_at > eligibility.last_done_at + {{ seconds_interval(lead_time_e2e_late_link_grace_s()) }}, false)
            as is_late,
        coalesce(prs.merged_at < first_deployments.first_deployed_at, false) as is_deploy_history_missing
    from {{ ref('int_jira_github_links') }} as links
    inner join {{ ref('int_dora_pull_requests') }} as prs
        on links.repo = prs.repo
        and links.pull_number = prs.pull_number
    inner join eligibility
        on links.issue_id = eligibility.issue_id
    left join first_deployments
        on links.repo = first_deployments.repo

),

pull_summary as (

    select
        issue_id,
        count(*) filter (where not is_late) as linked_pull_requests,
        count(*) filter (where is_late) as late_links,
        count(*) filter (where not is_late and deployed_at is null and not is_deploy_history_missing)
            as pending_pull_requests,
        count(*) filter (where not is_late and is_deploy_history_missing) as deploy_history_missing_pulls,
        max(deployed_at) filter (where not is_late) as last_deployed_at
    from issue_pulls
    group by issue_id

),

issue_fix_versions as (

    -- each fix version of a release-based issue with its `released` and `releaseDate` from the versions stream (read
    -- whole every run); the copy embedded in the issue, as old as the issue's last read (releasing a version does not
    -- touch its issues' `updated`), only for a version the stream does not have
    select
        eligibility.issue_id,
        case when versions.version_id is not null then versions.is_released
            else coalesce({{ try_cast(json_text('fix.value', 'released'), 'boolean') }}, false) end as is_released,
        case when versions.version_id is not null then versions.release_date
            else {{ try_cast(json_text('fix.value', 'releaseDate'), 'date') }} end as release_date
    from eligibility
    cross join {{ json_elements('eligibility.fix_versions') }} as fix
    left join {{ ref('stg_jira__versions') }} as versions
        on versions.version_id = ({{ json_text('fix.value', 'id') }})  -- DuckDB binds `=` tighter than `->>`
    where eligibility.is_release_based

),

releases as (

    -- the earliest released fix version with a release date (a released version without one gives no day)
    select issue_id, min(release_date) as released_on
    from issue_fix_versions
    where is_released
    group by issue_id

),

delivery as (

    select
        eligibility.*,
        coalesce(pull_summary.linked_pull_requests, 0) as linked_pull_requests,
        coalesce(pull_summary.late_links, 0) as late_links,
        coalesce(pull_summary.pending_pull_requests, 0) as pending_pull_requests,
        coalesce(pull_summary.deploy_history_missing_pulls, 0) as deploy_history_missing_pulls,
        pull_summary.last_deployed_at,
        releases.released_on,
        -- a release is delivery once its day has ended by as_of
        case
            when releases.released_on is not null
                and {{ local_midnight_utc('releases.released_on + 1') }} <= {{ as_of() }}
                then {{ local_midnight_utc('releases.released_on + 1') }}
        end as released_at
    from eligibility
    left join pull_summary
        on eligibility.issue_id = pull_summary.issue_id
    left join releases
        on eligibility.issue_id = releases.issue_id

),

statused as (

    select
        *,
        case
            when not is_eligible then 'not_eligible'
            when is_release_based then case when released_at is not null then 'delivered' else 'pending' end
            when linked_pull_requests = 0 then 'unlinked'
            when deploy_history_missing_pulls > 0 then 'unknown'
            when pending_pull_requests > 0 then 'pending'
            else 'delivered'
        end as delivery_status
    from delivery

),

spans as (

    select
        *,
        case when delivery_status = 'delivered'
            then case when is_release_based then released_at else last_deployed_at end
        end as delivered_at
    from statused

),

measured as (

    select
        *,
        -- the day the sample counts on: the release day itself for release-based projects
        case when delivery_status = 'delivered'
            then case when is_release_based then released_on else {{ to_local_date('delivered_at') }} end
        end as delivered_day,
        {{ seconds_between('created_at', 'delivered_at') }} as idea_to_deploy_s_measured,
        {{ seconds_between('first_in_progress_at', 'delivered_at') }} as start_to_deploy_s_measured
    from spans

)

select
    issue_id,
    key,
    project,
    team,
    issue_type,
    resolution,
    status_category,
    created_at,
    first_in_progress_at,
    last_done_at,
    is_eligible,
    is_release_based,
    linked_pull_requests,
    linked_pull_requests > 0 as has_linked_pull_request,
    late_links,
    pending_pull_requests,
    deploy_history_missing_pulls,
    released_on,
    delivery_status,
    delivered_at,
    delivered_day,
    case when is_eligible then {{ to_local_date('last_done_at') }} end as done_day,
    {{ dora_clamped('idea_to_deploy_s_measured') }} as idea_to_deploy_s,
    {{ dora_clamped('start_to_deploy_s_measured') }} as start_to_deploy_s,
    coalesce(idea_to_deploy_s_measured < 0, false) as is_created_after_deploy,
    coalesce(start_to_deploy_s_measured < 0, false) as is_started_after_deploy,
    {{ date_key('delivered_day') }} as date_key,
    {{ dim_key('jira_project', 'project') }} as jira_project_key,
    {{ dim_key('team', 'team') }} as team_key
from measured
