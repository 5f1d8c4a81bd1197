-- Everything that makes a deployment a change failure, one row per (deployment, cause), within the
-- attribution window: from the deployment time to var dora_attribution_window_s after it (inclusive),
-- and before the repository's next deployment (exclusive), never after as_of.
--   incident_window: an incident created on a PagerDuty service mapped to the repository;
--   revert_pr:       a pull request of the repository whose title starts with `Revert`, merged;
--   hotfix_label:    a pull request carrying a label of var dora_hotfix_labels, merged.
-- link_rank orders the causes when a deployment has several (an incident first: it gives the time to
-- restore).

with deployments as (

    select
        deployment_id,
        repo,
        deployed_at,
        next_deployed_at,
        deployed_at + to_seconds({{ dora_attribution_window_s() }}) as window_end_at
    from {{ ref('int_dora_deployments') }}

),

incident_links as (

    select
        deployments.deployment_id,
        'incident_window' as failure_link,
        1 as link_rank,
        incidents.incident_id,
        cast(null as bigint) as pull_number,
        incidents.created_at as linked_at,
        incidents.resolved_at
    from deployments
    inner join {{ ref('stg_config__repo_services') }} as repo_services
        on deployments.repo = repo_services.repo
    inner join {{ ref('stg_pagerduty__incidents') }} as incidents
        on repo_services.service_id = incidents.service_id
    where incidents.created_at >= deployments.deployed_at
      and incidents.created_at <= deployments.window_end_at
      and (deployments.next_deployed_at is null or incidents.created_at < deployments.next_deployed_at)
      and incidents.created_at <= {{ as_of() }}

),

pull_links as (

    select
        deployments.deployment_id,
        cause.failure_link,
        cause.link_rank,
        cast(null as varchar) as incident_id,
        pulls.pull_number,
        pulls.merged_at as linked_at,
        cast(null as timestamptz) as resolved_at
    from deployments
    inner join {{ ref('int_dora_pull_requests') }} as pulls
        on deployments.repo = pulls.repo
    inner join (values ('revert_pr', 2), ('hotfix_label', 3)) as cause(failure_link, link_rank)
        on (cause.failure_link = 'revert_pr' and pulls.is_revert)
        or (cause.failure_link = 'hotfix_label' and pulls.is_hotfix)
    where pulls.merged_at >= deployments.deployed_at
      and pulls.merged_at <= deployments.window_end_at
      and (deployments.next_deployed_at is null or pulls.merged_at < deployments.next_deployed_at)

)

select * from incident_links
union all
select * from pull_links
