{{
    config(
        materialized='incremental',
        tags=['every_run'],
        incremental_strategy='delete+insert',
        unique_key='day',
        on_schema_change='sync_all_columns',
        pre_hook="{{ incremental_rebuild_pre_hook() }}",
        post_hook="{{ incremental_state_post_hook() }}",
    )
}}
-- Availability per service and reporting day (dense: every service x every day of the window).
-- Definitions: docs/metrics.md / kpi-definitions.md "Availability".
--
-- Incremental (macros/incremental_window.sql): an incremental run recomputes the days from `from_day`
-- to run_date and replaces them (delete+insert on day). The rolling 30-day error budget of from_day
-- needs the 29 days before it, so those are computed as context and not written.

{%- set plan = incremental_window_for('availability') %}
{%- set from_day = plan.get('from_day') %}
{{ incremental_plan_marker(plan) }}

with days as (

    select day, day_start_at, day_end_at, day_length_s
    from {{ ref('int_reporting_days_spined') }}
    {%- if from_day %}
    where day >= date '{{ from_day }}' - 29
    {%- endif %}

),

services as (

    select service_id, service_name, team, slo_target_pct
    from {{ ref('int_services_mapped_to_teams') }}

),

intervals as (

    select service_id, incident_id, downtime_start_at, downtime_end_at
    from {{ ref('int_incident_downtime_intervals') }}
    {%- if from_day %}
    -- an interval that ends before the first computed day cannot change the union from there on
    where downtime_end_at > (select min(day_start_at) from days)
    {%- endif %}

),

islands as (

    {{ merge_downtime_intervals('intervals') }}

),

downtime as (

    {{ split_downtime_islands_to_days('islands', 'days') }}

),

incident_counts as (

    -- incidents of any urgency, by the local day they were created (up to as_of)
    select
        service_id,
        {{ to_local_date('created_at') }} as day,
        count(*) as incident_count
    from {{ ref('stg_pagerduty__incidents') }}
    where created_at <= {{ as_of() }}
    {%- if from_day %}
      and created_at >= (select min(day_start_at) from days)
    {%- endif %}
    group by 1, 2

),

service_days as (

    select
        days.day,
        services.service_id,
        services.service_name,
        services.team,
        days.day_length_s,
        coalesce(downtime.downtime_us, 0) as downtime_us,
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
        -- integer sums: exact, so a partial (incremental) and a full build agree to the last bit
        sum(downtime_us) over last_30_days as downtime_30d_us,
        sum(day_length_s) over last_30_days as window_length_s
    from service_days
    window last_30_days as (
        partition by service_id
        order by day
        rows between 29 preceding and current row
    )

),

final as (

    select
        day,
        service_id,
        service_name,
        team,
        day_length_s,
        downtime_us / 1000000.0 as downtime_s,
        cast(downtime_30d_us as double precision) / 1000000.0 as downtime_30d_s,
        incident_count,
        slo_target_pct,
        window_length_s
    from rolling
    {%- if from_day %}
    where day >= date '{{ from_day }}'
    {%- endif %}

)

select
    day,
    service_id,
    service_name,
    team,
    day_length_s,
    cast(downtime_s as double precision) as downtime_s,
    100.0 * (1 - downtime_s / day_length_s) as availability_pct,
    cast(incident_count as bigint) as incident_count,
    slo_target_pct,
    cast(downtime_30d_s as double precision) as downtime_30d_s,
    -- budget = (1 - slo/100) x window length; NULL when the SLO is 100 % (no budget at all)
    100.0 * (1 - downtime_30d_s / nullif((1 - slo_target_pct / 100.0) * window_length_s, 0))
        as error_budget_remaining_pct,
    -- the 30 days of the budget lie inside the reporting grid (false: provisional, a fresh install's first 29 days)
    {{ window_sample_complete('day', 30, ref('int_reporting_days_spined')) }} as sample_complete,
    {{ date_key('day') }} as date_key,
    {{ dim_key('service', 'service_id') }} as service_key,
    {{ dim_key('team', 'team') }} as team_key
from final
