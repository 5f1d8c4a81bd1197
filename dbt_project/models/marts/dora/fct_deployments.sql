{{ config(tags=['every_run']) }}
-- One row per DORA deployment (production, successful; see int_dora_deployments), with whether it
-- failed and how that was decided: an incident on a mapped service in the attribution window
-- (incident_window), else a revert (revert_pr), else a hotfix (hotfix_label). Several incidents after
-- one deployment make one failed deployment; the first of them is the linked incident, and its
-- resolved_at (when at or before as_of) is the restore time.
-- is_rework (DORA 2024 deployment rework rate, contract wave 2 §6): the deployment ships a revert or a hotfix, i.e.
-- a pull request whose deployment_id is this one (its first deployment at or after the merge into the default
-- branch) is a revert or a hotfix, by the same detection change failure rate uses. Failure marks the deployment
-- that broke, rework the one that ships the fix: the two are independent, a deployment can be both.

with links as (

    -- the first link of each deployment (DISTINCT ON: QUALIFY is DuckDB's only)
    select distinct on (deployment_id) *
    from {{ ref('int_dora_failure_links') }}
    order by deployment_id, link_rank, linked_at, incident_id, pull_number

),

rework as (

    select repo, deployment_id, count(*) as rework_pull_requests
    from {{ ref('int_dora_pull_requests') }}
    where deployment_id is not null
      and (is_revert or is_hotfix)
    group by repo, deployment_id

)

select
    deployments.deployment_id,
    deployments.repo,
    deployments.team,
    deployments.environment,
    deployments.deployed_at,
    links.deployment_id is not null as is_failed,
    links.failure_link,
    links.incident_id as linked_incident_id,
    case when links.resolved_at <= {{ as_of() }} then links.resolved_at end as restored_at,
    case
        when links.resolved_at <= {{ as_of() }}
            then {{ seconds_between('deployments.deployed_at', 'links.resolved_at') }}
    end as time_to_restore_s,
    rework.deployment_id is not null as is_rework,
    coalesce(rework.rework_pull_requests, 0) as rework_pull_requests,
    {{ date_key(to_local_date('deployments.deployed_at')) }} as date_key,
    {{ dim_key('repository', 'deployments.repo') }} as repository_key,
    {{ dim_key('team', 'deployments.team') }} as team_key
from {{ ref('int_dora_deployments') }} as deployments
left join links
    on deployments.deployment_id = links.deployment_id
left join rework
    on deployments.repo = rework.repo
    and deployments.deployment_id = rework.deployment_id
