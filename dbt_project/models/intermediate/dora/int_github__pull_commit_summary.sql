{{ changed_rows_config(['repo', 'pull_number'], on_schema_change='fail') }}
-- Per pull request: the earliest author date of its commits (as last listed) and how many there are. The
-- commits are the largest raw table and this summary depends on nothing but them, so it is incremental by pull
-- request (macros/changed_keys.sql): a run re-reads only the pull requests whose commit listing was loaded since.

select
    repo,
    pull_number,
    min(authored_at) as first_commit_at,
    count(*) as commit_count,
    max(_loaded_at) as _source_loaded_at
from {{ ref('stg_github__pull_commits') }}
where {{ changed_keys_filter(['repo', 'pull_number'], source('github', 'pull_commits')) }}
group by repo, pull_number
