-- Per-minute prices of a service's downtime from the configuration (services.<id>.downtime_cost_per_minute,
-- revenue_per_minute), one row per priced service. A service without a row is unpriced: its cost is unknown.

with source as (

    select service_id, downtime_cost_per_minute, revenue_per_minute
    from {{ source('config', 'service_prices') }}

),

renamed as (

    select
        trim(service_id) as service_id,
        cast(downtime_cost_per_minute as double) as downtime_cost_per_minute,
        cast(revenue_per_minute as double) as revenue_per_minute

    from source
    where nullif(trim(service_id), '') is not null

)

select * from renamed
