-- One row per release, drafts included (one-to-one with raw.github__releases).

with source as (

    select repo, id, record, _loaded_at
    from {{ source('github', 'releases') }}

)

select
    repo,
    id as release_id,
    {{ json_text('record', 'tag_name') }} as tag_name,
    {{ json_text('record', 'name') }} as release_name,
    {{ json_text('record', 'target_commitish') }} as target_commitish,
    coalesce(cast({{ json_text('record', 'draft') }} as boolean), false) as is_draft,
    coalesce(cast({{ json_text('record', 'prerelease') }} as boolean), false) as is_prerelease,
    {{ json_text('record', 'author.login') }} as author_login,
    {{ api_timestamp(json_text('record', 'created_at')) }} as created_at,
    {{ api_timestamp(json_text('record', 'published_at')) }} as published_at,
    _loaded_at
from source
