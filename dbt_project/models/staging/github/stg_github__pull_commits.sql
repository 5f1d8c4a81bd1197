{{ changed_rows_config(['repo', 'pull_number']) }}
-- Incremental by pull request (delete+insert replaces all of a pull request's rows): only pull requests with
-- commit rows loaded since the last build are re-read (macros/changed_keys.sql).
-- One row per commit of a pull request's latest listing (GraphQL reads them all; REST, before, listed at
-- most the first 250, oldest first, so the first commit is always present); commits a force-push removed keep an older
-- pull_updated_at (the listing they came from) and are dropped here.

with source as (

    select repo, pull_number, sha, pull_updated_at, record, _loaded_at
    from {{ source('github', 'pull_commits') }}
    -- every row of a pull request with a row loaded since the last build: its latest listing is re-chosen
    where {{ changed_keys_filter(['repo', 'pull_number'], source('github', 'pull_commits'), watermark='_loaded_at') }}

),

latest as (

    select
        *,
        max(pull_updated_at) over (partition by repo, pull_number) as latest_listing_at
    from source

)

select
    repo,
    pull_number,
    sha as commit_sha,
    {{ api_timestamp(json_text('record', 'commit.author.date')) }} as authored_at,
    {{ api_timestamp(json_text('record', 'commit.committer.date')) }} as committed_at,
    coalesce({{ json_text('record', 'commit.author.user.login') }}, {{ json_text('record', 'author.login') }}) as author_login,
    -- the full commit message (NULL for commits read before the field was asked): Jira keys of a pull request
    -- whose title and branch name none (int_jira_github_links)
    {{ json_text('record', 'commit.message') }} as message,
    pull_updated_at as listed_at_pull_updated_at,
    _loaded_at
from latest
where pull_updated_at is not distinct from latest_listing_at
