{{ config(severity='warn') }}
-- Every issue has as many changelog entries in raw as its changelog `total` said when it was read.
with landed as (

    select issue_id, count(*) as n_entries
    from {{ ref('stg_jira__issue_changelogs') }}
    group by issue_id

)

select issues.issue_id, issues.changelog_total, coalesce(landed.n_entries, 0) as n_entries
from {{ ref('stg_jira__issues') }} as issues
left join landed
    on issues.issue_id = landed.issue_id
where issues.changelog_total is not null
  and coalesce(landed.n_entries, 0) < issues.changelog_total
