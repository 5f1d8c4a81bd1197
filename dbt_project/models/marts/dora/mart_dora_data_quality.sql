{{ config(tags=['every_run']) }}
-- What the DORA figures rest on, per scope (org, team, repo) as of the run: merged pull requests,
-- how many are deployed and how many pending (merged, not deployed: NULL lead time, not 0), spans
-- made negative by clock skew and clamped to 0 (per part, and pull requests with any), pull requests
-- listed at the API's 250-commit cap, and those without commits (first_commit_at fell back to
-- created_at).

with pull_requests as (

    select * from {{ ref('int_dora_pull_requests') }}

),

scoped as (

    select 'repo' as scope_type, repo as scope_id, * from pull_requests
    union all
    select 'team', team, * from pull_requests
    union all
    select 'org', 'org', * from pull_requests

),

scopes as (

    select distinct 'repo' as scope_type, repo as scope_id from {{ ref('int_dora_repos') }}
    union
    select distinct 'team', team from {{ ref('int_dora_repos') }}
    union
    select 'org', 'org'

),

stats as (

    select
        scope_type,
        scope_id,
        count(*) as merged_pull_requests,
        count(*) filter (where not is_pending) as deployed_pull_requests,
        count(*) filter (where is_pending) as pending_pull_requests,
        count(*) filter (where is_coding_clamped or is_review_clamped or is_deploy_clamped
                               or is_lead_time_clamped) as clamped_pull_requests,
        count(*) filter (where is_coding_clamped) as clamped_coding_spans,
        count(*) filter (where is_review_clamped) as clamped_review_spans,
        count(*) filter (where is_deploy_clamped) as clamped_deploy_spans,
        count(*) filter (where is_lead_time_clamped) as clamped_lead_time_spans,
        count(*) filter (where is_commit_list_capped) as commit_list_capped_pull_requests,
        count(*) filter (where is_missing_commits) as pull_requests_without_commits
    from scoped
    group by scope_type, scope_id

)

select
    scopes.scope_type,
    scopes.scope_id,
    {{ run_date() }} as run_date,
    coalesce(stats.merged_pull_requests, 0) as merged_pull_requests,
    coalesce(stats.deployed_pull_requests, 0) as deployed_pull_requests,
    coalesce(stats.pending_pull_requests, 0) as pending_pull_requests,
    coalesce(stats.clamped_pull_requests, 0) as clamped_pull_requests,
    coalesce(stats.clamped_coding_spans, 0) as clamped_coding_spans,
    coalesce(stats.clamped_review_spans, 0) as clamped_review_spans,
    coalesce(stats.clamped_deploy_spans, 0) as clamped_deploy_spans,
    coalesce(stats.clamped_lead_time_spans, 0) as clamped_lead_time_spans,
    coalesce(stats.commit_list_capped_pull_requests, 0) as commit_list_capped_pull_requests,
    coalesce(stats.pull_requests_without_commits, 0) as pull_requests_without_commits,
    {{ date_key(run_date()) }} as date_key,
    {{ scope_keys('scopes.scope_type', 'scopes.scope_id', ['repository']) }}
from scopes
left join stats
    on scopes.scope_type = stats.scope_type
    and scopes.scope_id = stats.scope_id
