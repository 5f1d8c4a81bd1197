{{ config(tags=['detection_area']) }}
-- One row per failed DORA deployment (fct_deployments.is_failed): how long the bad change went unnoticed.
-- Definitions: docs/metrics.md "Time to detect" (a). With an incident_window link, change_detection_s = the linked
-- incident's created_at (the first incident in the attribution window) - deployed_at, on the local day of that
-- created_at; found only by a revert or a hotfix pull request, it has no moment of detection: is_unknown, on the local
-- day of the first such pull request's merge.

with links as (

    select
        deployment_id,
        min(linked_at) filter (where failure_link = 'incident_window') as incident_at,
        min(linked_at) as first_linked_at
    from {{ ref('int_dora_failure_links') }}
    group by deployment_id

)

select
    deployments.deployment_id,
    deployments.repo,
    deployments.team,
    deployments.deployed_at,
    deployments.failure_link,
    links.incident_at,
    links.incident_at is null as is_unknown,
    case
        when links.incident_at is not null then {{ seconds_between('deployments.deployed_at', 'links.incident_at') }}
    end as change_detection_s,
    {{ to_local_date('coalesce(links.incident_at, links.first_linked_at)') }} as day
from {{ ref('fct_deployments') }} as deployments
inner join links
    on deployments.deployment_id = links.deployment_id
where deployments.is_failed
