-- One row per release, drafts included (one-to-one with raw.github__releases).

with source as (

    select repo, id, record, _loaded_at
    from {{ source('github', 'releases') }}

)

select
    repo,
    id as release_id,
    record->>'$.tag_name' as tag_name,
    record->>'$.name' as release_name,
    record->>'$.target_commitish' as target_commitish,
    coalesce(cast(record->>'$.draft' as boolean), false) as is_draft,
    coalesce(cast(record->>'$.prerelease' as boolean), false) as is_prerelease,
    record->>'$.author.login' as author_login,
    {{ api_timestamp("record->>'$.created_at'") }} as created_at,
    {{ api_timestamp("record->>'$.published_at'") }} as published_at,
    _loaded_at
from source
