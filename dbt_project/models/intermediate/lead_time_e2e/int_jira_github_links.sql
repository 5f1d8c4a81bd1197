{{ config(materialized='table', tags=['every_run']) }}
-- Which Jira issue each pull request works on (docs/metrics.md "End-to-end lead time"): one row per issue and pull
-- request merged into its repository's default branch by as_of (DORA's lead-time set, int_dora_pull_requests).
-- A pull request names an issue by its key (macros/lead_time_e2e.sql jira_key_pattern):
--   - in its title (as written: keys are upper case) or its head branch (upper-cased first: `feature/ops-12-x`
--     names OPS-12), read together;
--   - only when neither names an issue, in its commit messages (teams that put the key in the commit only);
--   - never in its body: descriptions mention unrelated tickets.
-- A key names an issue when it is the issue's current key or a former one (a moved issue keeps its old key as an
-- alias: changelog items of field `Key`); a current key counts only in a configured project (var jira_projects), a
-- former key in any. "Names an issue" means after these rules: a title that names only an unknown key
-- (`Bump RELEASE-2024`) does not stop the commits from being read.
-- link_source is where the first key for that issue was found: title, then head_ref, then commit.
-- A table, not a view: fct_issue_delivery and the tests read it.

with issues as (

    select issue_id, issue_key
    from {{ ref('stg_jira__issues') }}
    where created_at <= {{ as_of() }}

),

key_entries as (

    -- only entries that can hold a key change are unnested (the text test is a cheap superset of the JSON one)
    select issue_id, items
    from {{ ref('stg_jira__issue_changelogs') }}
    where strpos(lower(cast(items as varchar)), 'key') > 0

),

key_items as (

    select key_entries.issue_id, item.value as item
    from key_entries, {{ json_elements('key_entries.items') }} as item

),

moved_keys as (

    -- both sides of every move: a key the issue had before, or had between two moves
    select issue_id, {{ json_text('item', 'fromString') }} as jira_key
    from key_items
    where (lower({{ json_text('item', 'field') }}) = 'key' or ({{ json_text('item', 'fieldId') }}) = 'issuekey')
    union
    select issue_id, {{ json_text('item', 'toString') }} as jira_key
    from key_items
    where (lower({{ json_text('item', 'field') }}) = 'key' or ({{ json_text('item', 'fieldId') }}) = 'issuekey')

),

issue_keys as (

    select issue_id, issue_key as jira_key, false as is_former
    from issues
    union
    select moved_keys.issue_id, moved_keys.jira_key, true as is_former
    from moved_keys
    inner join issues
        on moved_keys.issue_id = issues.issue_id
    where moved_keys.jira_key is not null
      and moved_keys.jira_key is distinct from issues.issue_key

),

configured_projects as (

    {%- set configured = configured_jira_projects() %}
    {%- if configured is none %}
    select distinct project_key
    from {{ ref('stg_jira__projects') }}
    {%- else %}
    select unnest({{ configured }}) as project_key
    {%- endif %}

),

known_keys as (

    select issue_keys.issue_id, issue_keys.jira_key
    from issue_keys
    where issue_keys.is_former
       or {{ jira_key_project('issue_keys.jira_key') }} in (select project_key from configured_projects)

),

pulls as (

    select prs.repo, prs.pull_number, prs.merged_at, prs.title, staged.head_ref
    from {{ ref('int_dora_pull_requests') }} as prs
    inner join {{ ref('stg_github__pulls') }} as staged
        on prs.repo = staged.repo
        and prs.pull_number = staged.pull_number

),

named_keys as (

    select repo, pull_number, unnest({{ jira_keys_in('title') }}) as jira_key, 'title' as link_source, 1 as source_rank
    from pulls
    union all
    select repo, pull_number, unnest({{ jira_keys_in('upper(head_ref)') }}) as jira_key, 'head_ref' as link_source,
        2 as source_rank
    from pulls

),

named_links as (

    select named_keys.repo, named_keys.pull_number, known_keys.issue_id, named_keys.jira_key, named_keys.link_source,
        named_keys.source_rank
    from named_keys
    inner join known_keys
        on named_keys.jira_key = known_keys.jira_key

),

commit_keys as (

    -- the commits of the pull requests whose title and branch name no issue
    select commits.repo, commits.pull_number, unnest({{ jira_keys_in('commits.message') }}) as jira_key
    from {{ ref('stg_github__pull_commits') }} as commits
    inner join pulls
        on commits.repo = pulls.repo
        and commits.pull_number = pulls.pull_number
    where not exists (
        select 1 from named_links
        where commits.repo = named_links.repo
          and commits.pull_number = named_links.pull_number
    )

),

commit_links as (

    select commit_keys.repo, commit_keys.pull_number, known_keys.issue_id, commit_keys.jira_key,
        'commit' as link_source, 3 as source_rank
    from commit_keys
    inner join known_keys
        on commit_keys.jira_key = known_keys.jira_key

),

all_links as (

    select * from named_links
    union all
    select * from commit_links

)

select
    all_links.issue_id,
    issues.issue_key,
    all_links.repo,
    all_links.pull_number,
    -- the first source, and its first key in key order (a title naming both the old and the new key of one issue)
    case min(all_links.source_rank) when 1 then 'title' when 2 then 'head_ref' else 'commit' end as link_source,
    split_part(min(all_links.source_rank || ' ' || all_links.jira_key), ' ', 2) as named_key,
    {{ dbt.any_value('pulls.merged_at') }} as merged_at
from all_links
inner join issues
    on all_links.issue_id = issues.issue_id
inner join pulls
    on all_links.repo = pulls.repo
    and all_links.pull_number = pulls.pull_number
group by all_links.issue_id, issues.issue_key, all_links.repo, all_links.pull_number
