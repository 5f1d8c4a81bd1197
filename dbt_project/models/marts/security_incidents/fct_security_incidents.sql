{{ config(tags=['every_run']) }}
-- One row per security incident created up to as_of, with the first rule that made it one (security_match).
-- Definitions: docs/metrics.md "Security incidents". PagerDuty incidents are fct_incidents' rows (so TTA, TTR,
-- the last resolution and the state at as_of are the Incidents definitions), matched on their fields as last
-- read: a renamed title that no longer matches drops the incident at the next build. Jira issues of a type in
-- var security_incident_jira_issue_types are security incidents whether or not they are incidents of
-- fct_incidents (var jira_incident_issue_types); they have no acknowledgement (it would need the changelog).
-- Every rule empty (the default): no rows.
--
-- A table, rebuilt on every build: security incidents are a small subset of fct_incidents (which is incremental),
-- and a rule change must re-match every incident anyway.

{%- set enabled = security_incidents_enabled() %}

with pagerduty as (

    select
        incidents.incident_id,
        incidents.source,
        incidents.service_id,
        incidents.service_name,
        incidents.team,
        incidents.title,
        staged.incident_type_name as incident_type,
        incidents.priority,
        incidents.urgency,
        {{ security_incident_match('incidents.service_id', 'staged.incident_type_name', 'incidents.priority',
                                   'incidents.title') }} as security_match,
        incidents.created_at,
        incidents.acknowledged_at,
        incidents.resolved_at
    from {{ ref('fct_incidents') }} as incidents
    inner join {{ ref('stg_pagerduty__incidents') }} as staged
        on incidents.incident_id = staged.incident_id
    where incidents.source = 'pagerduty'

),

configured as (

    select service_id, team
    from {{ ref('stg_config__services') }}

),

jira as (

    -- type, priority and resolution as they stood at as_of (replayed from the changelog: fct_jira_issues)
    select
        'jira:' || issues.issue_key as incident_id,
        'jira' as source,
        'jira:' || coalesce(issues.project_key, split_part(issues.issue_key, '-', 1)) as service_id,
        coalesce(issues.project_name, issues.project_key, split_part(issues.issue_key, '-', 1)) as service_name,
        issues.summary as title,
        as_of_issues.issue_type as incident_type,
        as_of_issues.priority,
        'jira_issue_type' as security_match,
        issues.created_at,
        cast(null as timestamptz) as acknowledged_at,
        -- a resolution after as_of has not happened yet at as_of
        as_of_issues.resolved_at
    from {{ ref('stg_jira__issues') }} as issues
    inner join {{ ref('fct_jira_issues') }} as as_of_issues
        on issues.issue_id = as_of_issues.issue_id
    where {{ is_security_jira_issue_type('as_of_issues.issue_type') }}
      and issues.created_at <= {{ as_of() }}

),

matched as (

    select
        incident_id, source, service_id, service_name, team, title, incident_type, priority, urgency,
        security_match, created_at, acknowledged_at, resolved_at
    from pagerduty
    where security_match is not null

    union all

    select
        jira.incident_id, jira.source, jira.service_id, jira.service_name,
        coalesce(configured.team, 'unassigned') as team,
        jira.title, jira.incident_type, jira.priority, cast(null as varchar) as urgency,
        jira.security_match, jira.created_at, jira.acknowledged_at, jira.resolved_at
    from jira
    left join configured
        on jira.service_id = configured.service_id

)

select
    incident_id,
    source,
    service_id,
    service_name,
    team,
    title,
    incident_type,
    priority,
    urgency,
    security_match,
    created_at,
    acknowledged_at,
    resolved_at,
    case when acknowledged_at is not null then {{ seconds_between('created_at', 'acknowledged_at') }} end as tta_s,
    case when resolved_at is not null then {{ seconds_between('created_at', 'resolved_at') }} end as ttr_s,
    resolved_at is null as is_open,
    {{ date_key(to_local_date('created_at')) }} as date_key,
    {{ dim_key('service', 'service_id') }} as service_key,
    {{ dim_key('team', 'team') }} as team_key
from matched
where {{ 'true' if enabled else 'false' }}
