-- Configured repository <-> PagerDuty service links: incidents on these services can be caused by the
-- repository's deployments (one row per pair).

with source as (

    select repo, service_id
    from {{ source('config', 'repo_services') }}

)

select distinct
    trim(repo) as repo,
    trim(service_id) as service_id
from source
where nullif(trim(repo), '') is not null
  and nullif(trim(service_id), '') is not null
