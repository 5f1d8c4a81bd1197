-- A table, not a view: several models and their tests read it, and recomputing it for each cost more than
-- the whole build of it once.
{{ config(materialized='table', tags=['every_run']) }}

-- Pull requests merged into their repository's default branch at or before as_of, with the first
-- deployment of the same repository at or after the merge (NULL while pending), the lead-time spans in
-- seconds as measured (may be negative through clock skew) and clamped at 0, and flags for data quality.
-- first_commit_at is the earliest author date of the PR's commits (the PR's created_at without commits).

with pulls as (

    select *
    from {{ ref('stg_github__pulls') }}
    where merged_at is not null
      and merged_at <= {{ as_of() }}
      and base_ref = coalesce(base_default_branch, 'main')

),

merged_pulls as (

    select repo, merged_at as event_at, pull_number from pulls

),

commits as (

    select repo, pull_number, first_commit_at, commit_count
    from {{ ref('int_github__pull_commit_summary') }}

),

first_deployment as (

    -- the first deployment of the repository at or after the merge (ties: smallest deployment_id)
    {{ asof_deployment('merged_pulls', ['pull_number'], 'next') }}

),

joined as (

    select
        pulls.repo,
        pulls.pull_number,
        repos.team,
        pulls.author_login,
        pulls.title,
        pulls.label_names,
        pulls.created_at,
        pulls.merged_at,
        coalesce(commits.first_commit_at, pulls.created_at) as first_commit_at,
        coalesce(commits.commit_count, 0) as commit_count,
        first_deployment.deployment_id,
        first_deployment.deployed_at
    from pulls
    inner join {{ ref('int_dora_repos') }} as repos
        on pulls.repo = repos.repo
    left join commits
        on pulls.repo = commits.repo
        and pulls.pull_number = commits.pull_number
    left join first_deployment
        on pulls.repo = first_deployment.repo
        and pulls.pull_number = first_deployment.pull_number

),

spans as (

    select
        *,
        {{ seconds_between('first_commit_at', 'created_at') }} as coding_s_measured,
        {{ seconds_between('created_at', 'merged_at') }} as review_s_measured,
        {{ seconds_between('merged_at', 'deployed_at') }} as deploy_s_measured,
        {{ seconds_between('first_commit_at', 'deployed_at') }} as lead_time_s_measured
    from joined

)

select
    repo,
    pull_number,
    team,
    author_login,
    title,
    created_at,
    merged_at,
    first_commit_at,
    deployed_at,
    deployment_id,
    {{ dora_clamped('coding_s_measured') }} as coding_s,
    {{ dora_clamped('review_s_measured') }} as review_s,
    {{ dora_clamped('deploy_s_measured') }} as deploy_s,
    {{ dora_clamped('lead_time_s_measured') }} as lead_time_s,
    {{ dora_is_revert('title') }} as is_revert,
    {{ dora_is_hotfix('label_names') }} as is_hotfix,
    deployed_at is null as is_pending,
    commit_count,
    commit_count = 0 as is_missing_commits,
    commit_count >= 250 as is_commit_list_capped,
    coding_s_measured < 0 as is_coding_clamped,
    review_s_measured < 0 as is_review_clamped,
    deploy_s_measured < 0 as is_deploy_clamped,
    lead_time_s_measured < 0 as is_lead_time_clamped
from spans
