{{ config(materialized='table') }}
-- Teams: every team of the configuration's mappings and every team a fact or daily mart names (so that every
-- team_key joins), `unassigned` (what is not mapped) included, plus the none member (-1: an org row, no team).

{%- set facts = ['fct_incidents', 'fct_deployments', 'fct_pull_requests', 'fct_jira_issues', 'fct_security_alerts',
                 'fct_security_incidents', 'fct_incident_detection', 'mart_availability_daily',
                 'mart_security_coverage', 'fct_issue_delivery'] %}
{%- set scoped = ['mart_availability_rollup_daily', 'mart_incident_response_daily', 'mart_downtime_cost_daily',
                  'mart_security_incidents_daily', 'mart_dora_daily', 'mart_dora_tier', 'mart_dora_weekly',
                  'mart_dora_data_quality', 'mart_jira_flow_daily', 'mart_security_posture_daily',
                  'mart_patch_compliance_daily', 'mart_detection_daily', 'mart_maturity_scorecard',
                  'mart_maturity_level_daily', 'mart_e2e_lead_time_daily', 'kpi_daily_snapshot'] %}

with named as (

    select team, 1 as configured from {{ ref('int_services_mapped_to_teams') }}
    union all
    select team, 1 from {{ ref('int_dora_repos') }}
    union all
    select team, 1 from {{ ref('stg_jira__project_teams') }}
    {%- for model in facts %}
    union all
    select team, 0 from {{ ref(model) }}
    {%- endfor %}
    {%- for model in scoped %}
    union all
    select scope_id, 0 from {{ ref(model) }} where scope_type = 'team'
    {%- endfor %}
    union all
    select 'unassigned', 1

)

select
    {{ dim_key('team', 'team') }} as team_key,
    team,
    team = 'unassigned' as is_unassigned,
    bool_or(configured = 1) as is_configured
from named
where team is not null
group by team
union all
select {{ none_key() }}, null, false, false
