-- Configured repository -> team mapping (one row per configured repository).

with source as (

    select repo, team
    from {{ source('config', 'repos') }}

)

select distinct on (trim(repo))
    trim(repo) as repo,
    nullif(trim(team), '') as team
from source
where nullif(trim(repo), '') is not null
order by trim(repo), team
