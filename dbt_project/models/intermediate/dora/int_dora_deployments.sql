-- A table, not a view: several models and their tests read it, and recomputing it for each cost more than
-- the whole build of it once.
{{ config(materialized='table', tags=['every_run']) }}

-- DORA deployments, one row each, deployed at or before as_of:
--   * a GitHub deployment whose environment is in var dora_production_environments (case-insensitive)
--     and that has a `success` status; its time is the first success status (statuses seen after
--     as_of do not exist yet);
--   * for a repository listed in var dora_deploy_workflows, instead: a completed, successful run of
--     that workflow (by name or file) on the default branch; its time is the run's updated_at (the
--     end of its latest attempt).
-- next_deployed_at is the repository's next deployment, which closes the failure attribution window.

with deploy_workflows as (

    select * from {{ dora_deploy_workflows_relation() }} as deploy_workflows

),

first_success as (

    select
        repo,
        deployment_id,
        min(created_at) as deployed_at
    from {{ ref('stg_github__deployment_statuses') }}
    where state = 'success'
      and created_at <= {{ as_of() }}
    group by repo, deployment_id

),

from_deployments as (

    select
        cast(deployments.deployment_id as varchar) as deployment_id,
        deployments.repo,
        deployments.environment,
        first_success.deployed_at,
        'deployment' as deployment_source
    from {{ ref('stg_github__deployments') }} as deployments
    inner join first_success
        on deployments.repo = first_success.repo
        and deployments.deployment_id = first_success.deployment_id
    where {{ array_has(dora_production_environments(), 'lower(deployments.environment)') }}
      and deployments.repo not in (select repo from deploy_workflows)

),

from_workflow_runs as (

    select
        'run:' || cast(runs.run_id as varchar) as deployment_id,
        runs.repo,
        {{ dora_workflow_run_environment() }} as environment,
        runs.updated_at as deployed_at,
        'workflow_run' as deployment_source
    from {{ ref('stg_github__workflow_runs') }} as runs
    -- the repository's default branch as the API says today (the run's payload lacks it)
    left join {{ ref('stg_github__repositories') }} as repositories
        on runs.repo = repositories.repo
    inner join deploy_workflows
        on runs.repo = deploy_workflows.repo
        and deploy_workflows.workflow in (runs.workflow_name, runs.workflow_path,
                                          {{ regex_extract('runs.workflow_path', "'[^/]+$'") }})
    where runs.status = 'completed'
      and runs.conclusion = 'success'
      and runs.head_branch = coalesce(runs.run_default_branch, repositories.default_branch)
      and runs.updated_at <= {{ as_of() }}

),

all_deployments as (

    select * from from_deployments
    union all
    select * from from_workflow_runs

)

select
    all_deployments.deployment_id,
    all_deployments.repo,
    repos.team,
    all_deployments.environment,
    all_deployments.deployed_at,
    all_deployments.deployment_source,
    lead(all_deployments.deployed_at) over (
        partition by all_deployments.repo
        order by all_deployments.deployed_at, all_deployments.deployment_id
    ) as next_deployed_at
from all_deployments
inner join {{ ref('int_dora_repos') }} as repos
    on all_deployments.repo = repos.repo
