-- One row per pull request merged into its repository's default branch (at or before as_of), with its
-- lead time for changes. Pending pull requests (merged, not deployed yet) have NULL deployed_at,
-- deploy_s and lead_time_s, never 0. Spans made negative by clock skew are clamped to 0 here and
-- counted in mart_dora_data_quality.

select
    repo,
    pull_number as number,
    team,
    author_login as author,
    created_at,
    merged_at,
    first_commit_at,
    deployed_at,
    deployment_id,
    coding_s,
    review_s,
    deploy_s,
    lead_time_s,
    is_revert,
    is_hotfix,
    {{ date_key(to_local_date('created_at')) }} as date_key,
    {{ dim_key('repository', 'repo') }} as repository_key,
    {{ dim_key('team', 'team') }} as team_key
from {{ ref('int_dora_pull_requests') }}
