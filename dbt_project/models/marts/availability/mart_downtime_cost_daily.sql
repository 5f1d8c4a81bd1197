-- Downtime cost and revenue at risk per scope (service, team, org) and reporting day: what availability's
-- downtime costs at the configured per-minute prices. Definitions: docs/metrics.md "Downtime cost".
--
-- The downtime is mart_availability_daily's own (the union of the service's downtime intervals within the
-- day, cut at as_of), so cost and availability agree by construction; a price is per minute of real time,
-- so a 25-hour day's downtime costs what it lasted. Team and org figures are sums over their services (cost
-- adds up, unlike availability's mean); unpriced services add to downtime_s only, and cost_coverage_pct says
-- how much of the downtime the cost covers.
--
-- A table, rebuilt from mart_availability_daily like mart_availability_rollup_daily: one join and one
-- aggregation per row of that mart, whose incremental build already recomputes the days that changed; prices
-- carry no dates, so a price change must reprice every day anyway.

with service_days as (

    select day, service_id, team, downtime_s
    from {{ ref('mart_availability_daily') }}

),

prices as (

    select service_id, downtime_cost_per_minute, revenue_per_minute
    from {{ ref('stg_config__service_prices') }}

),

priced as (

    select
        service_days.day,
        service_days.service_id,
        service_days.team,
        -- back to the mart's exact integer microseconds, so that the sums below are exact and independent of
        -- summation order: priced downtime never exceeds the downtime by a rounding error
        cast(round(service_days.downtime_s * 1000000) as bigint) as downtime_us,
        prices.downtime_cost_per_minute is not null as is_priced,
        service_days.downtime_s / 60.0 * prices.downtime_cost_per_minute as downtime_cost,
        service_days.downtime_s / 60.0 * prices.revenue_per_minute as revenue_at_risk
    from service_days
    left join prices
        on service_days.service_id = prices.service_id

),

scoped as (

    {{ rows_per_scope('select * from priced', [('service', 'service_id'), ('team', 'team'), ('org', "'org'")]) }}

),

summed as (

    select
        day,
        scope_type,
        scope_id,
        cast(sum(downtime_us) as bigint) as downtime_us,
        cast(coalesce(sum(downtime_us) filter (where is_priced), 0) as bigint) as priced_downtime_us,
        -- NULL when no service of the scope is priced: unknown, not 0
        sum(downtime_cost) as downtime_cost,
        sum(revenue_at_risk) as revenue_at_risk,
        count(*) filter (where is_priced) as priced_service_count,
        count(*) as service_count
    from scoped
    group by day, scope_type, scope_id

)

select
    day,
    scope_type,
    scope_id,
    {{ business_impact_currency() }} as currency,
    cast(downtime_us / 1000000.0 as double precision) as downtime_s,
    cast(priced_downtime_us / 1000000.0 as double precision) as priced_downtime_s,
    cast(downtime_cost as double precision) as downtime_cost,
    cast(revenue_at_risk as double precision) as revenue_at_risk,
    cast(100.0 * priced_downtime_us / nullif(downtime_us, 0) as double precision) as cost_coverage_pct,
    cast(priced_service_count as bigint) as priced_service_count,
    cast(service_count as bigint) as service_count,
    {{ date_key('day') }} as date_key,
    {{ scope_keys('scope_type', 'scope_id', ['service']) }}
from summed
