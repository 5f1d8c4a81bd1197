-- A table, not a view: several models and their tests read it, and recomputing it for each cost more than
-- the whole build of it once.
{{ config(materialized='table', tags=['every_run']) }}

-- Everything that makes a deployment a change failure, one row per (deployment, cause), within the
-- attribution window: from the deployment time to var dora_attribution_window_s after it (inclusive),
-- and before the repository's next deployment (exclusive), never after as_of.
--   incident_window: an incident created on a PagerDuty service mapped to the repository;
--   revert_pr:       a pull request of the repository whose title starts with `Revert`, merged (into any branch,
--                    or only the default one with var dora_failure_pull_request_branches = 'default');
--   hotfix_label:    a pull request carrying a label of var dora_hotfix_labels, merged (the same branches).
-- link_rank orders the causes when a deployment has several (an incident first: it gives the time to
-- restore).

with incident_events as (

    -- an incident counts for every repository mapped to its service
    select repo_services.repo, incidents.created_at as event_at, incidents.incident_id, incidents.resolved_at
    from {{ ref('stg_config__repo_services') }} as repo_services
    inner join {{ ref('stg_pagerduty__incidents') }} as incidents
        on repo_services.service_id = incidents.service_id
    where incidents.created_at <= {{ as_of() }}

),

pull_events as (

    -- merged into any branch, as the contract says (var dora_failure_pull_request_branches = 'default': only the
    -- default branch), of a repository in scope
    select pulls.repo, pulls.merged_at as event_at, pulls.pull_number, pulls.is_revert, pulls.is_hotfix
    from (
        select
            repo, merged_at, pull_number, base_ref, base_default_branch,
            {{ dora_is_revert('title') }} as is_revert,
            {{ dora_is_hotfix('label_names') }} as is_hotfix
        from {{ ref('stg_github__pulls') }}
        where merged_at is not null
          and merged_at <= {{ as_of() }}
    ) as pulls
    inner join {{ ref('int_dora_repos') }} as repos
        on pulls.repo = repos.repo
    where (pulls.is_revert or pulls.is_hotfix)
    {%- if dora_failure_pull_request_branches() == 'default' %}
      and pulls.base_ref = coalesce(pulls.base_default_branch, 'main')
    {%- endif %}

),

-- The deployment each event falls after: the repository's last deployment at or before it. The attribution
-- window of a deployment ends before the next deployment, so no other deployment can claim the event.
incident_deployments as (

    {{ asof_deployment('incident_events', ['incident_id', 'resolved_at'], 'previous') }}

),

pull_deployments as (

    {{ asof_deployment('pull_events', ['pull_number', 'is_revert', 'is_hotfix'], 'previous') }}

),

incident_links as (

    select
        deployment_id,
        'incident_window' as failure_link,
        1 as link_rank,
        incident_id,
        cast(null as bigint) as pull_number,
        event_at as linked_at,
        resolved_at
    from incident_deployments
    where deployment_id is not null
      and event_at <= deployed_at + {{ seconds_interval(dora_attribution_window_s()) }}

),

pull_links as (

    select
        pull_deployments.deployment_id,
        cause.failure_link,
        cause.link_rank,
        cast(null as varchar) as incident_id,
        pull_deployments.pull_number,
        pull_deployments.event_at as linked_at,
        cast(null as timestamptz) as resolved_at
    from pull_deployments
    inner join (values ('revert_pr', 2), ('hotfix_label', 3)) as cause(failure_link, link_rank)
        on (cause.failure_link = 'revert_pr' and pull_deployments.is_revert)
        or (cause.failure_link = 'hotfix_label' and pull_deployments.is_hotfix)
    where pull_deployments.deployment_id is not null
      and pull_deployments.event_at <= pull_deployments.deployed_at + {{ seconds_interval(dora_attribution_window_s()) }}

)

select * from incident_links
union all
select * from pull_links
