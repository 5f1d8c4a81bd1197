{{
    config(
        materialized='incremental',
        tags=['every_run'],
        incremental_strategy='delete+insert',
        unique_key='incident_id',
        on_schema_change='sync_all_columns',
        pre_hook="{{ incremental_rebuild_pre_hook(changes_delete_where=\"source = 'jira'\") }}",
        post_hook="{{ incremental_state_post_hook() }}",
    )
}}
-- One row per incident (PagerDuty, plus Jira issues of a type in var jira_incident_issue_types) created
-- up to as_of, as it stood at as_of. Definitions: docs/metrics.md "Incidents".
--   acknowledged_at  first acknowledge log entry, NULL when none by as_of (Jira: always NULL, needs the changelog)
--   resolved_at      the incident's resolved_at (its last resolution), NULL while open or when after as_of
--   tta_s / ttr_s    acknowledged_at - created_at / resolved_at - created_at; NULL when the end is NULL
--   reopen_count     reopens seen in the log entries up to as_of (Jira: NULL, needs the changelog)
--
-- Incremental (macros/incremental_window.sql), delete+insert on incident_id. An incremental run
-- recomputes the PagerDuty incidents that can have changed since the last build: raw row reloaded,
-- created after the previous as_of, a state-change log entry loaded since or dated after the previous
-- as_of, or open at the previous as_of. Jira incidents are few: they are all recomputed every run (the
-- pre-hook deletes them first, so an issue that stopped being an incident disappears).

{%- set plan = incremental_window_for('incidents', day_window=false) %}
{%- set changes_only = plan.mode == 'changes' %}
{{ incremental_plan_marker(plan) }}

with services as (

    select service_id, service_name, team
    from {{ ref('int_incident_services_mapped_to_teams') }}

),

{%- if changes_only %}

changed_pagerduty_incidents as (

    -- raw row reloaded, or created after the previous as_of
    select incident_id
    from {{ ref('stg_pagerduty__incidents') }}
    where _loaded_at > {{ plan.watermark }}
       or created_at > {{ plan.previous_as_of }}

    union

    -- a state-change log entry loaded since the last build, or dated after the previous as_of
    {{ changed_pagerduty_log_entry_incidents(plan.inputs, plan) }}

    union

    -- open at the previous as_of: it may have been resolved since (whether or not it was reloaded)
    select incident_id
    from {{ this }}
    where source = 'pagerduty'
      and is_open

),
{%- endif %}

log_entries as (

    select incident_id, log_entry_id, log_entry_type, created_at
    from {{ ref('stg_pagerduty__log_entries') }}
    {%- if changes_only %}
    where incident_id in (select incident_id from changed_pagerduty_incidents)
    {%- endif %}

),

log_summary as (

    {{ summarize_pagerduty_log_entries('log_entries') }}

),

pagerduty as (

    select
        incidents.incident_id,
        'pagerduty' as source,
        incidents.service_id,
        incidents.service_name as incident_service_name,
        incidents.urgency,
        incidents.priority_name as priority,
        incidents.title,
        incidents.status as api_status,
        logs.status_at_as_of as log_status,
        incidents.created_at,
        logs.first_acknowledged_at as acknowledged_at,
        incidents.resolved_at as api_resolved_at,
        coalesce(logs.reopen_count, 0) as reopen_count
    from {{ ref('stg_pagerduty__incidents') }} as incidents
    left join log_summary as logs
        on incidents.incident_id = logs.incident_id
    where incidents.created_at <= {{ as_of() }}
    {%- if changes_only %}
      and incidents.incident_id in (select incident_id from changed_pagerduty_incidents)
    {%- endif %}

),

jira as (

    -- as the issue stood at as_of: its type, priority and resolution replayed from the changelog (fct_jira_issues),
    -- so a backfill of a past day sees an issue retyped, re-prioritised or reopened since as it was that day
    select
        'jira:' || issues.issue_key as incident_id,
        'jira' as source,
        'jira:' || coalesce(issues.project_key, split_part(issues.issue_key, '-', 1)) as service_id,
        coalesce(issues.project_name, issues.project_key) as incident_service_name,
        case when lower(as_of_issues.priority) in ('highest', 'high') then 'high' else 'low' end as urgency,
        as_of_issues.priority,
        issues.summary as title,
        case when as_of_issues.resolved_at is not null then 'resolved' else 'triggered' end as api_status,
        cast(null as varchar) as log_status,
        issues.created_at,
        cast(null as timestamptz) as acknowledged_at,
        as_of_issues.resolved_at as api_resolved_at,
        cast(null as bigint) as reopen_count
    from {{ ref('stg_jira__issues') }} as issues
    inner join {{ ref('fct_jira_issues') }} as as_of_issues
        on issues.issue_id = as_of_issues.issue_id
    where {{ is_jira_incident_type('as_of_issues.issue_type') }}
      and issues.created_at <= {{ as_of() }}

),

unioned as (

    select * from pagerduty
    union all
    select * from jira

),

as_of_clipped as (

    select
        *,
        -- a resolution after as_of has not happened yet at as_of
        case when api_resolved_at <= {{ as_of() }} then api_resolved_at end as resolved_at
    from unioned

)

select
    as_of_clipped.incident_id,
    as_of_clipped.source,
    as_of_clipped.service_id,
    coalesce(services.service_name, as_of_clipped.incident_service_name, as_of_clipped.service_id) as service_name,
    coalesce(services.team, 'unassigned') as team,
    as_of_clipped.urgency,
    as_of_clipped.priority,
    as_of_clipped.title,
    -- status at as_of: resolved when resolved by then; else what the log entries up to as_of say (a replay of a
    -- past day shows that day's status: acknowledged, or triggered; a resolve entry by as_of of an incident whose
    -- API resolution is later, i.e. one reopened since, is open like its resolved_at says); without them, an
    -- incident still open now keeps its API status, and one resolved after as_of was acknowledged at as_of when
    -- acknowledged by then, else triggered
    case
        when as_of_clipped.resolved_at is not null then 'resolved'
        when as_of_clipped.log_status = 'acknowledged' then 'acknowledged'
        when as_of_clipped.log_status is not null then 'triggered'
        when as_of_clipped.api_status in ('triggered', 'acknowledged') then as_of_clipped.api_status
        when as_of_clipped.acknowledged_at is not null then 'acknowledged'
        else 'triggered'
    end as status,
    as_of_clipped.created_at,
    as_of_clipped.acknowledged_at,
    as_of_clipped.resolved_at,
    case
        when as_of_clipped.acknowledged_at is not null
            then {{ seconds_between('as_of_clipped.created_at', 'as_of_clipped.acknowledged_at') }}
    end as tta_s,
    case
        when as_of_clipped.resolved_at is not null
            then {{ seconds_between('as_of_clipped.created_at', 'as_of_clipped.resolved_at') }}
    end as ttr_s,
    {{ is_downtime_incident('as_of_clipped.urgency', 'as_of_clipped.priority') }} as is_downtime,
    as_of_clipped.resolved_at is null as is_open,
    as_of_clipped.reopen_count,
    {{ date_key(to_local_date('as_of_clipped.created_at')) }} as date_key,
    {{ dim_key('service', 'as_of_clipped.service_id') }} as service_key,
    {{ dim_key('team', "coalesce(services.team, 'unassigned')") }} as team_key
from as_of_clipped
left join services
    on as_of_clipped.service_id = services.service_id
