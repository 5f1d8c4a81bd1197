with source as (

    select service_id, team, slo_target_pct
    from {{ source('config', 'services') }}

),

renamed as (

    select
        trim(service_id) as service_id,
        nullif(trim(team), '') as team,
        cast(slo_target_pct as double precision) as slo_target_pct

    from source
    where nullif(trim(service_id), '') is not null

)

select * from renamed
