-- Configured repository -> team mapping (one row per configured repository).

with source as (

    select repo, team
    from {{ source('config', 'repos') }}

)

select
    trim(repo) as repo,
    nullif(trim(team), '') as team
from source
where nullif(trim(repo), '') is not null
qualify row_number() over (partition by trim(repo) order by team) = 1
