-- Security incidents per scope (service, team, org) and reporting day: created, resolved, open at the end of the
-- day, MTTA and MTTR (mean, p50, p90) with sample sizes, over fct_security_incidents. Definitions:
-- docs/metrics.md "Security incidents": the Incidents figures (macros/incident_response.sql, shared with
-- mart_incident_response_daily) on the security subset. Dense over the days of int_reporting_days_spined and
-- the scopes of mart_incident_response_daily plus any Jira project with security issues; no rows at all when
-- every rule is empty (the area is off: no rows, not zeros).
--
-- A table, rebuilt on every build from fct_security_incidents (see there).

with days as (

    select day, day_start_at, day_end_at
    from {{ ref('int_reporting_days_spined') }}
    where {{ 'true' if security_incidents_enabled() else 'false' }}

),

services as (

    select service_id, team
    from {{ ref('int_incident_services_mapped_to_teams') }}

    union

    select distinct service_id, team
    from {{ ref('fct_security_incidents') }}

),

scope_members as (

    {{ rows_per_scope('select service_id, team from services',
                      [('service', 'service_id'), ('team', 'team'), ('org', "'org'")]) }}

),

incidents as (

    select service_id, created_at, acknowledged_at, resolved_at, tta_s, ttr_s
    from {{ ref('fct_security_incidents') }}

),

figures as (

    {{ incident_response_figures('days', 'scope_members', 'incidents') }}

)

select
    day,
    scope_type,
    scope_id,
    incidents_created as security_incidents_created,
    incidents_resolved as security_incidents_resolved,
    open_at_end_of_day as security_incidents_open,
    mtta_s_mean,
    mtta_s_p50,
    mtta_s_p90,
    mtta_sample_size,
    mttr_s_mean,
    mttr_s_p50,
    mttr_s_p90,
    mttr_sample_size,
    {{ date_key('day') }} as date_key,
    {{ scope_keys('scope_type', 'scope_id', ['service']) }}
from figures
