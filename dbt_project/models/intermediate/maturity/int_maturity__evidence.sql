{{ config(materialized='table', tags=['every_run', 'maturity_area']) }}
-- The rubric's named evidence queries (seed maturity_rubric.evidence; contract kpi-definitions-wave2.md §7), one row
-- per day, scope (org, team: int_maturity__grid), evidence and window length the selected rubric asks for:
--   evidence_value   the figure the criterion's threshold is compared with (NULL: nothing to compare)
--   sample_size      the population it was computed over (0: empty, the criterion takes when_empty)
-- Windows end on the day (d-window_days+1..d) and read the facts, so a past day is recomputed exactly as it would
-- have been (backfill), except where a source keeps only its current state (repository coverage: the latest
-- answer of mart_security_coverage, as the contract says). An evidence the warehouse cannot compute yet has no row
-- at all: the scorecard makes that insufficient_data (a v2 evidence name not written yet).
--
--   services_mapped                  configured PagerDuty services of the scope (value = sample)
--   incidents_acknowledged_pct       100 x PagerDuty incidents created in the window and acknowledged by the end of
--                                    d / those incidents
--   jira_projects_active             the scope's configured Jira projects with an issue created in the window;
--                                    sample = the scope's projects
--   services_slo_explicit_pct        100 x configured services with an explicit slo_target_pct / services
--   services_slo_met_pct             100 x services with error_budget_remaining_pct >= 0 on d / services with a
--                                    figure on d (mart_availability_daily)
--   monitoring_detection_share       100 x monitoring / (monitoring + human) detections of eligible incidents
--                                    created in the window (fct_incident_detection)
--   mtta_p50                         median tta_s of the incidents created in the window and acknowledged by the
--                                    end of d; sample = those incidents
--   repos_dependabot_enabled_pct,    100 x the scope's repositories whose latest coverage answer for the tool is
--   repos_code_scanning_enabled_pct  enabled / the scope's repositories
--   repos_deployed_pct               100 x the scope's repositories with a DORA deployment in the window / repos
--   dora_measured                    how many of: deployments >= 10, lead-time sample >= 10, restore sample >= 1
--                                    or no failed deployment (window); sample = deployments
--   detection_coverage               100 x eligible incidents with a known detection delay / eligible (window)
--   e2e_link_coverage                100 x eligible Jira issues done in the window (done_day) with a linked pull
--                                    request / those issues (fct_issue_delivery; the snapshot's e2e_link_coverage)
--   patch_compliance                 100 x met / decided patch deadlines (mart_patch_compliance_daily, severity
--                                    'all', window); sample = decided
--   critical_alerts_past_sla         open critical alerts past SLA at the end of d (mart_security_posture_daily);
--                                    sample = open critical alerts
--   nightly_runs                     days of the window with a nightly run (pipeline_health_daily dates; the
--                                    pipeline writes one per run, never for a backfilled date); value = sample
--   improving_kpis                   candidate KPIs improving (int_maturity__improving_kpis); sample = the
--                                    candidates with both samples >= 5
--   dora_tiers_elite_or_high         of the four DORA metrics, those Elite or High on d (mart_dora_tier); sample =
--                                    the metrics with a tier

with rubric as (

    select * from {{ ref('maturity_rubric') }} where rubric_version = {{ maturity_rubric_version() }}

),

criterion_windows as (

    select distinct evidence, coalesce(window_days, 1) as window_days
    from rubric
    where kind = 'measured'

),

grid as (

    select grid.*, windows.evidence, windows.window_days
    from {{ ref('int_maturity__grid') }} as grid
    cross join criterion_windows as windows

),

-- facts, each with scope_type / scope_id (team and org); the *_days relations are the same facts counted per scope,
-- day and what the windowed aggregates filter on (maturity_windowed joins each row to up to 90 grid days)
incidents as (

    {{ rows_per_scope("select team, " ~ to_local_date('created_at') ~ " as day, acknowledged_at, tta_s
                       from " ~ ref('fct_incidents') ~ " where source = 'pagerduty'", maturity_scopes()) }}

),

incident_days as (

    select scope_type, scope_id, day, {{ to_local_date('acknowledged_at') }} as acknowledged_day, count(*) as n
    from incidents
    group by all

),

detection_days as (

    select scope_type, scope_id, day, detected_by, detection_delay_s is not null as measured, count(*) as n
    from (
        {{ rows_per_scope("select team, created_day as day, detected_by, detection_delay_s
                           from " ~ ref('fct_incident_detection') ~ " where is_eligible", maturity_scopes()) }}
    ) as detections
    group by all

),

project_days as (

    select distinct scope_type, scope_id, day, project_key
    from (
        {{ rows_per_scope("select projects.team, projects.project_key, " ~ to_local_date('issues.created_at') ~ " as day
                       from " ~ ref('stg_jira__issues') ~ " as issues
                       inner join " ~ ref('stg_jira__project_teams') ~ " as projects
                           on issues.project_key = projects.project_key
                       where issues.created_at <= " ~ as_of(), maturity_scopes()) }}
    ) as project_issues

),

deployment_days as (

    select scope_type, scope_id, day, repo,
           count(*) filter (where is_failed and time_to_restore_s is not null) as restored
    from (
        {{ rows_per_scope("select team, repo, " ~ to_local_date('deployed_at') ~ " as day, is_failed,
                           time_to_restore_s from " ~ ref('fct_deployments'), maturity_scopes()) }}
    ) as deployments
    group by all

),

dora_daily as (

    select day, scope_type, scope_id, deployments, failed_deployments, lead_time_sample_size
    from {{ ref('mart_dora_daily') }}
    where scope_type in ('team', 'org')

),

services as (

    {{ rows_per_scope("select mapped.team, mapped.service_id, configured.slo_target_pct is not null as slo_explicit
                       from " ~ ref('int_services_mapped_to_teams') ~ " as mapped
                       left join " ~ ref('stg_config__services') ~ " as configured
                           on mapped.service_id = configured.service_id
                       where mapped.is_configured", maturity_scopes()) }}

),

service_days as (

    {{ rows_per_scope("select mapped.team, availability.day, availability.error_budget_remaining_pct
                       from " ~ ref('mart_availability_daily') ~ " as availability
                       inner join " ~ ref('int_services_mapped_to_teams') ~ " as mapped
                           on availability.service_id = mapped.service_id
                       where mapped.is_configured", maturity_scopes()) }}

),

repo_coverage as (

    {{ rows_per_scope("select repos.team, repos.repo,
                       coalesce(bool_or(coverage.enabled) filter (where coverage.tool = 'dependabot'), false)
                           as dependabot_enabled,
                       coalesce(bool_or(coverage.enabled) filter (where coverage.tool = 'code_scanning'), false)
                           as code_scanning_enabled
                       from " ~ ref('int_dora_repos') ~ " as repos
                       left join " ~ ref('mart_security_coverage') ~ " as coverage
                           on coverage.repo = repos.repo and coverage.is_latest
                       group by repos.team, repos.repo", maturity_scopes()) }}

),

patch_days as (

    select day, scope_type, scope_id, met, decided
    from {{ ref('mart_patch_compliance_daily') }}
    where severity = 'all' and scope_type in ('team', 'org')

),

posture as (

    select day, scope_type, scope_id, sum("open") as open_critical, sum(in_breach) as in_breach
    from {{ ref('mart_security_posture_daily') }}
    where severity = 'critical' and scope_type in ('team', 'org')
    group by all

),

nightly_runs as (

    select distinct snapshot_date as day
    from {{ ref('pipeline_health_daily') }}
    where run_id not like 'backfill:%'

),

tiers as (

    select
        day, scope_type, scope_id,
        count(*) filter (where tier in ('elite', 'high')) as elite_or_high,
        count(tier) as tiered
    from {{ ref('mart_dora_tier') }}
    group by all

),

improving as (

    select
        day, scope_type, scope_id,
        count(*) filter (where is_improving) as improving,
        count(*) filter (where samples_sufficient) as candidates
    from {{ ref('int_maturity__improving_kpis') }}
    group by all

),

-- windowed aggregates (macros/maturity.sql maturity_windowed)
acknowledged as (

    {{ maturity_windowed('incidents_acknowledged_pct', 'incident_days', 'day', [
        ('acknowledged', maturity_weighted_count('n', 'facts.acknowledged_day <= grid.day'))], weight='n') }}

),

acknowledge_times as (

    {#- a median needs every value: the incidents themselves (a 30-day window in v1) -#}
    {{ maturity_windowed('mtta_p50', 'incidents', 'day', [
        ('p50_s', 'quantile_cont(facts.tta_s, 0.5) filter (where facts.acknowledged_at < grid.day_end_at)'),
        ('acknowledged', 'count(facts.tta_s) filter (where facts.acknowledged_at < grid.day_end_at)')]) }}

),

monitoring as (

    {{ maturity_windowed('monitoring_detection_share', 'detection_days', 'day', [
        ('monitoring', maturity_weighted_count('n', "facts.detected_by = 'monitoring'")),
        ('human', maturity_weighted_count('n', "facts.detected_by = 'human'"))], weight='n') }}

),

coverage as (

    {{ maturity_windowed('detection_coverage', 'detection_days', 'day', [
        ('measured', maturity_weighted_count('n', 'facts.measured'))], weight='n') }}

),

issue_link_days as (

    select scope_type, scope_id, day, has_linked_pull_request, count(*) as n
    from (
        {{ rows_per_scope("select team, done_day as day, has_linked_pull_request
                           from " ~ ref('fct_issue_delivery') ~ " where is_eligible", maturity_scopes()) }}
    ) as issue_links
    group by all

),

link_coverage as (

    {{ maturity_windowed('e2e_link_coverage', 'issue_link_days', 'day', [
        ('linked', maturity_weighted_count('n', 'facts.has_linked_pull_request'))], weight='n') }}

),

active_projects as (

    {{ maturity_windowed('jira_projects_active', 'project_days', 'day', [
        ('active', 'count(distinct facts.project_key)')]) }}

),

deployed_repos as (

    {{ maturity_windowed('repos_deployed_pct', 'deployment_days', 'day', [
        ('deployed', 'count(distinct facts.repo)')]) }}

),

restores as (

    {{ maturity_windowed('dora_measured', 'deployment_days', 'day', [
        ('restored', maturity_weighted_count('restored'))]) }}

),

dora_volumes as (

    {{ maturity_windowed('dora_measured', 'dora_daily', 'day', [
        ('deployments', 'sum(facts.deployments)'),
        ('failed', 'sum(facts.failed_deployments)'),
        ('lead_times', 'sum(facts.lead_time_sample_size)')]) }}

),

patches as (

    {{ maturity_windowed('patch_compliance', 'patch_days', 'day', [
        ('met', 'sum(facts.met)'), ('decided', 'sum(facts.decided)')]) }}

),

runs as (

    select grid.day, grid.window_days, count(*) as nights
    from (select distinct day, window_days from grid where evidence = 'nightly_runs') as grid
    inner join nightly_runs
        on nightly_runs.day between grid.day - (grid.window_days - 1) and grid.day
    group by all

),

service_counts as (

    select scope_type, scope_id, count(*) as services, count(*) filter (where slo_explicit) as explicit
    from services
    group by all

),

slo_met as (

    select day, scope_type, scope_id, count(error_budget_remaining_pct) as services,
           count(*) filter (where error_budget_remaining_pct >= 0) as met
    from service_days
    group by all

),

repo_counts as (

    select scope_type, scope_id, count(*) as repos,
           count(*) filter (where dependabot_enabled) as dependabot,
           count(*) filter (where code_scanning_enabled) as code_scanning
    from repo_coverage
    group by all

),

evidence as (

    select grid.day, grid.scope_type, grid.scope_id, grid.evidence, grid.window_days,
        case grid.evidence
            when 'services_mapped' then grid.services
            when 'incidents_acknowledged_pct'
                then 100.0 * acknowledged.acknowledged / nullif(acknowledged.facts_in_window, 0)
            when 'jira_projects_active' then coalesce(active_projects.active, 0)
            when 'services_slo_explicit_pct' then 100.0 * service_counts.explicit / nullif(service_counts.services, 0)
            when 'services_slo_met_pct' then 100.0 * slo_met.met / nullif(slo_met.services, 0)
            when 'monitoring_detection_share'
                then 100.0 * monitoring.monitoring / nullif(monitoring.monitoring + monitoring.human, 0)
            when 'mtta_p50' then acknowledge_times.p50_s
            when 'repos_dependabot_enabled_pct' then 100.0 * repo_counts.dependabot / nullif(repo_counts.repos, 0)
            when 'repos_code_scanning_enabled_pct'
                then 100.0 * repo_counts.code_scanning / nullif(repo_counts.repos, 0)
            when 'repos_deployed_pct' then 100.0 * coalesce(deployed_repos.deployed, 0) / nullif(grid.repos, 0)
            when 'dora_measured'
                then cast(coalesce(dora_volumes.deployments, 0) >= 10 as integer)
                     + cast(coalesce(dora_volumes.lead_times, 0) >= 10 as integer)
                     + cast(coalesce(restores.restored, 0) >= 1 or coalesce(dora_volumes.failed, 0) = 0 as integer)
            when 'detection_coverage' then 100.0 * coverage.measured / nullif(coverage.facts_in_window, 0)
            when 'e2e_link_coverage' then 100.0 * link_coverage.linked / nullif(link_coverage.facts_in_window, 0)
            when 'patch_compliance' then 100.0 * patches.met / nullif(patches.decided, 0)
            when 'critical_alerts_past_sla' then coalesce(posture.in_breach, 0)
            when 'nightly_runs' then coalesce(runs.nights, 0)
            when 'improving_kpis' then coalesce(improving.improving, 0)
            when 'dora_tiers_elite_or_high' then coalesce(tiers.elite_or_high, 0)
        end as evidence_value,
        case grid.evidence
            when 'services_mapped' then grid.services
            when 'incidents_acknowledged_pct' then coalesce(acknowledged.facts_in_window, 0)
            when 'jira_projects_active' then grid.projects
            when 'services_slo_explicit_pct' then coalesce(service_counts.services, 0)
            when 'services_slo_met_pct' then coalesce(slo_met.services, 0)
            when 'monitoring_detection_share' then coalesce(monitoring.monitoring + monitoring.human, 0)
            when 'mtta_p50' then coalesce(acknowledge_times.acknowledged, 0)
            when 'repos_dependabot_enabled_pct' then coalesce(repo_counts.repos, 0)
            when 'repos_code_scanning_enabled_pct' then coalesce(repo_counts.repos, 0)
            when 'repos_deployed_pct' then grid.repos
            when 'dora_measured' then coalesce(dora_volumes.deployments, 0)
            when 'detection_coverage' then coalesce(coverage.facts_in_window, 0)
            when 'e2e_link_coverage' then coalesce(link_coverage.facts_in_window, 0)
            when 'patch_compliance' then coalesce(patches.decided, 0)
            when 'critical_alerts_past_sla' then coalesce(posture.open_critical, 0)
            when 'nightly_runs' then coalesce(runs.nights, 0)
            when 'improving_kpis' then coalesce(improving.candidates, 0)
            when 'dora_tiers_elite_or_high' then coalesce(tiers.tiered, 0)
        end as sample_size
    from grid
    {%- for relation in ['acknowledged', 'acknowledge_times', 'monitoring', 'coverage', 'link_coverage', 'active_projects',
                         'deployed_repos', 'restores', 'dora_volumes', 'patches'] %}
    left join {{ relation }}
        on {{ relation }}.evidence = grid.evidence
        and {{ relation }}.day = grid.day
        and {{ relation }}.scope_type = grid.scope_type
        and {{ relation }}.scope_id = grid.scope_id
        and {{ relation }}.window_days = grid.window_days
    {%- endfor %}
    left join service_counts
        on service_counts.scope_type = grid.scope_type and service_counts.scope_id = grid.scope_id
    left join repo_counts
        on repo_counts.scope_type = grid.scope_type and repo_counts.scope_id = grid.scope_id
    left join slo_met
        on slo_met.day = grid.day and slo_met.scope_type = grid.scope_type and slo_met.scope_id = grid.scope_id
    left join posture
        on posture.day = grid.day and posture.scope_type = grid.scope_type and posture.scope_id = grid.scope_id
    left join runs
        on runs.day = grid.day and runs.window_days = grid.window_days
    left join improving
        on improving.day = grid.day and improving.scope_type = grid.scope_type
        and improving.scope_id = grid.scope_id
    left join tiers
        on tiers.day = grid.day and tiers.scope_type = grid.scope_type and tiers.scope_id = grid.scope_id

)

-- an evidence name this model does not compute (a v2 name not written yet) has no row
select day, scope_type, scope_id, evidence, window_days, evidence_value, sample_size
from evidence
where evidence in ('services_mapped', 'incidents_acknowledged_pct', 'jira_projects_active',
                   'services_slo_explicit_pct', 'services_slo_met_pct', 'monitoring_detection_share', 'mtta_p50',
                   'repos_dependabot_enabled_pct', 'repos_code_scanning_enabled_pct', 'repos_deployed_pct',
                   'dora_measured', 'detection_coverage', 'e2e_link_coverage', 'patch_compliance', 'critical_alerts_past_sla',
                   'nightly_runs', 'improving_kpis', 'dora_tiers_elite_or_high')
