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
-- Empty samples give NULL statistics with sample size 0. Percentiles are exact (quantile_cont). The figures are
-- macros/incident_response.sql, shared with mart_security_incidents_daily.
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

incidents as (

    select
        service_id,
        created_at,
        acknowledged_at,
        resolved_at,
        tta_s,
        ttr_s
    from {{ ref('fct_incidents') }}
    {%- if from_day %}
    -- an incident resolved before the first computed day touches none of the computed days
    where resolved_at is null
       or resolved_at >= (select min(day_start_at) from days)
    {%- endif %}

),

figures as (

    {{ incident_response_figures('days', 'scope_members', 'incidents') }}

)

select *, {{ date_key('day') }} as date_key, {{ scope_keys('scope_type', 'scope_id', ['service']) }}
from figures
