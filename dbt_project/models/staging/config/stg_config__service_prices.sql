-- Per-minute prices of a service's downtime from the configuration (services.<id>.downtime_cost_per_minute,
-- revenue_per_minute), one row per priced service. A service without a row is unpriced: its cost is unknown.

with source as (

    -- no rows in a warehouse last loaded by a version without prices (the next load writes the table, and the
    -- slim build then rebuilds this view: opskpi/dbt_selection.py hashes the config tables)
    {{ security_source_or_empty(source('config', 'service_prices'),
                                [('service_id', 'varchar'), ('downtime_cost_per_minute', 'double precision'),
                                 ('revenue_per_minute', 'double precision')]) }}

),

renamed as (

    select
        trim(service_id) as service_id,
        cast(downtime_cost_per_minute as double precision) as downtime_cost_per_minute,
        cast(revenue_per_minute as double precision) as revenue_per_minute

    from source
    where nullif(trim(service_id), '') is not null

)

select * from renamed
