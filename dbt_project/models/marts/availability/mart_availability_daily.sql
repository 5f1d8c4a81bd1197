-- Availability per service and reporting day (dense: every service x every day of the window).
-- Definitions: docs/metrics.md / kpi-definitions.md "Availability".

with services as (

    select service_id, service_name, team, slo_target_pct
    from {{ ref('int_services_mapped_to_teams') }}

),

days as (

    select day, day_length_s
    from {{ ref('int_reporting_days_spined') }}

),

downtime as (

    select service_id, day, downtime_s
    from {{ ref('int_downtime_split_to_days') }}

),

incident_counts as (

    -- incidents of any urgency, by the local day they were created (up to as_of)
    select
        service_id,
        {{ to_local_date('created_at') }} as day,
        count(*) as incident_count
    from {{ ref('stg_pagerduty__incidents') }}
    where created_at <= {{ as_of() }}
    group by 1, 2

),

service_days as (

    select
        days.day,
        services.service_id,
        services.service_name,
        services.team,
        days.day_length_s,
        coalesce(downtime.downtime_s, 0) as downtime_s,
        coalesce(incident_counts.incident_count, 0) as incident_count,
        services.slo_target_pct
    from days
    cross join services
    left join downtime
        on downtime.service_id = services.service_id
        and downtime.day = days.day
    left join incident_counts
        on incident_counts.service_id = services.service_id
        and incident_counts.day = days.day

),

rolling as (

    select
        *,
        sum(downtime_s) over last_30_days as downtime_30d_s,
        sum(day_length_s) over last_30_days as window_length_s
    from service_days
    window last_30_days as (
        partition by service_id
        order by day
        rows between 29 preceding and current row
    )

)

select
    day,
    service_id,
    service_name,
    team,
    day_length_s,
    cast(downtime_s as double) as downtime_s,
    100.0 * (1 - downtime_s / day_length_s) as availability_pct,
    cast(incident_count as bigint) as incident_count,
    slo_target_pct,
    cast(downtime_30d_s as double) as downtime_30d_s,
    -- budget = (1 - slo/100) x window length; NULL when the SLO is 100 % (no budget at all)
    100.0 * (1 - downtime_30d_s / nullif((1 - slo_target_pct / 100.0) * window_length_s, 0))
        as error_budget_remaining_pct
from rolling
