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
-- Incident response per scope and reporting day, dense: every scope (org, each team, each service of
-- int_incident_services_mapped_to_teams) x every day of int_reporting_days_spined (the availability window).
-- Definitions: docs/metrics.md "Incidents". Team and org figures pool the incidents of their services.
--   incidents_created / MTTA   incidents created that local day; MTTA over those acknowledged by as_of
--   incidents_resolved / MTTR  incidents resolved that local day (by as_of)
--   open_at_end_of_day         created before the day's end and not resolved by then (on the last day
--                              the end is as_of: resolutions after as_of have not happened yet)
-- Empty samples give NULL statistics with sample size 0. Percentiles are exact (quantile_cont).
--
-- Incremental (macros/incremental_window.sql): an incremental run recomputes the days from `from_day`
-- to run_date and replaces them (delete+insert on day).

{%- set plan = incremental_window_for('incident_response') %}
{%- set from_day = plan.get('from_day') %}
{{ incremental_plan_marker(plan) }}

with days as (

    select day, day_start_at, day_end_at
    from {{ ref('int_reporting_days_spined') }}
    {%- if from_day %}
    where day >= date '{{ from_day }}'
    {%- endif %}

),

services as (

    select service_id, team
    from {{ ref('int_incident_services_mapped_to_teams') }}

),

scope_members as (

    select 'service' as scope_type, service_id as scope_id, service_id from services
    union all
    select 'team' as scope_type, team as scope_id, service_id from services
    union all
    select 'org' as scope_type, 'org' as scope_id, service_id from services

),

scopes as (

    select distinct scope_type, scope_id
    from scope_members

),

incidents as (

    select
        service_id,
        created_at,
        acknowledged_at,
        resolved_at,
        tta_s,
        ttr_s,
        -- exact integer microseconds for the means (independent of summation order)
        epoch_us(acknowledged_at) - epoch_us(created_at) as tta_us,
        epoch_us(resolved_at) - epoch_us(created_at) as ttr_us
    from {{ ref('fct_incidents') }}
    {%- if from_day %}
    -- an incident resolved before the first computed day touches none of the computed days
    where resolved_at is null
       or resolved_at >= (select min(day_start_at) from days)
    {%- endif %}

),

scoped_incidents as (

    select scope_members.scope_type, scope_members.scope_id, incidents.*
    from incidents
    inner join scope_members
        on incidents.service_id = scope_members.service_id

),

created_stats as (

    select
        scope_type,
        scope_id,
        {{ to_local_date('created_at') }} as day,
        count(*) as incidents_created,
        sum(tta_us) / (count(tta_us) * 1000000.0) as mtta_s_mean,
        quantile_cont(tta_s, 0.5) as mtta_s_p50,
        quantile_cont(tta_s, 0.9) as mtta_s_p90,
        count(tta_s) as mtta_sample_size
    from scoped_incidents
    group by 1, 2, 3

),

resolved_stats as (

    select
        scope_type,
        scope_id,
        {{ to_local_date('resolved_at') }} as day,
        count(*) as incidents_resolved,
        sum(ttr_us) / (count(ttr_us) * 1000000.0) as mttr_s_mean,
        quantile_cont(ttr_s, 0.5) as mttr_s_p50,
        quantile_cont(ttr_s, 0.9) as mttr_s_p90,
        count(ttr_s) as mttr_sample_size
    from scoped_incidents
    where resolved_at is not null
    group by 1, 2, 3

),

open_stats as (

    -- resolved_at is already NULL when the resolution is after as_of, so on the last day "not resolved
    -- by the end of the day" and "not resolved by as_of" agree
    select
        scoped_incidents.scope_type,
        scoped_incidents.scope_id,
        days.day,
        count(*) as open_at_end_of_day
    from scoped_incidents
    inner join days
        on scoped_incidents.created_at < days.day_end_at
        and (scoped_incidents.resolved_at is null or scoped_incidents.resolved_at >= days.day_end_at)
    group by 1, 2, 3

)

select
    days.day,
    scopes.scope_type,
    scopes.scope_id,
    coalesce(created_stats.incidents_created, 0) as incidents_created,
    coalesce(resolved_stats.incidents_resolved, 0) as incidents_resolved,
    coalesce(open_stats.open_at_end_of_day, 0) as open_at_end_of_day,
    case when created_stats.mtta_sample_size > 0 then created_stats.mtta_s_mean end as mtta_s_mean,
    cast(created_stats.mtta_s_p50 as double) as mtta_s_p50,
    cast(created_stats.mtta_s_p90 as double) as mtta_s_p90,
    coalesce(created_stats.mtta_sample_size, 0) as mtta_sample_size,
    case when resolved_stats.mttr_sample_size > 0 then resolved_stats.mttr_s_mean end as mttr_s_mean,
    cast(resolved_stats.mttr_s_p50 as double) as mttr_s_p50,
    cast(resolved_stats.mttr_s_p90 as double) as mttr_s_p90,
    coalesce(resolved_stats.mttr_sample_size, 0) as mttr_sample_size
from days
cross join scopes
left join created_stats
    on created_stats.day = days.day
    and created_stats.scope_type = scopes.scope_type
    and created_stats.scope_id = scopes.scope_id
left join resolved_stats
    on resolved_stats.day = days.day
    and resolved_stats.scope_type = scopes.scope_type
    and resolved_stats.scope_id = scopes.scope_id
left join open_stats
    on open_stats.day = days.day
    and open_stats.scope_type = scopes.scope_type
    and open_stats.scope_id = scopes.scope_id
