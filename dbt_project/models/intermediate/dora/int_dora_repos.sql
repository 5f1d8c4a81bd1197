-- Every repository DORA reports on: the configured ones plus any seen in pull requests, deployments or
-- workflow runs, with the team from the configuration (`unassigned` when not mapped).

with seen as (

    select repo from {{ ref('stg_config__repos') }}
    union
    select repo from {{ ref('stg_config__repo_services') }}
    union
    select repo from {{ ref('stg_github__pulls') }}
    union
    select repo from {{ ref('stg_github__deployments') }}
    union
    select repo from {{ ref('stg_github__workflow_runs') }}

)

select
    seen.repo,
    coalesce(configured.team, 'unassigned') as team
from seen
left join {{ ref('stg_config__repos') }} as configured
    on seen.repo = configured.repo
where seen.repo is not null
