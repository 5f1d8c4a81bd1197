-- One row per configured repository as GET /repos/{owner}/{repo} last returned it (one-to-one with
-- raw.github__repositories): the default branch that workflow runs do not carry.

select
    repo,
    id as repository_id,
    default_branch,
    updated_at,
    _loaded_at
from {{ source('github', 'repositories') }}
