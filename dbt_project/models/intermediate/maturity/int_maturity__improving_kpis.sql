{{ config(materialized='table', tags=['every_run', 'maturity_area']) }}
-- The rubric's "improving" evidence (contract §7, "Improving KPIs"): per day d, scope (org, team) and candidate KPI,
-- its value over the last 30 days (d-29..d) and over the 90 days before (d-119..d-30), each pooled from the facts
-- (exact medians, rates over the window's deployments), never averaged from daily figures. All candidates are
-- lower-is-better.
--   improved      recent <= 95 % of prior, both samples >= 5
--   elite_both    a DORA metric (lead_time_p50, change_failure_rate) whose value is Elite in both periods, by the
--                 tier thresholds of var dora_benchmark_year, both samples >= 5 (an Elite team cannot improve by 5 %
--                 forever; holding Elite counts)
--   is_improving  improved or elite_both
-- e2e_lead_time_p50: idea to deploy of the Jira issues delivered that day (fct_issue_delivery).
-- A table: the evidence, the scorecard and this model's tests read it, and each read of a view would pool every
-- fact into 120 days of windows again.

{%- set rate_kpis = ['change_failure_rate', 'deployment_rework_rate'] %}
{%- set dora_metrics = {'lead_time_p50': 'lead_time', 'change_failure_rate': 'change_failure_rate'} %}

with facts as (

    select 'mttr_p50' as kpi, team, {{ to_local_date('resolved_at') }} as day, cast(ttr_s as double) as value
    from {{ ref('fct_incidents') }}
    where source = 'pagerduty' and ttr_s is not null
    union all
    select 'e2e_lead_time_p50', team, {{ to_local_date('delivered_at') }}, cast(idea_to_deploy_s as double)
    from {{ ref('fct_issue_delivery') }}
    where delivery_status = 'delivered' and idea_to_deploy_s is not null
    union all
    select 'mttd_p50', team, created_day, cast(detection_delay_s as double)
    from {{ ref('fct_incident_detection') }}
    where is_eligible and detection_delay_s is not null
    union all
    select 'lead_time_p50', team, {{ to_local_date('deployed_at') }}, cast(lead_time_s as double)
    from {{ ref('fct_pull_requests') }}
    where lead_time_s is not null
    union all
    select 'change_failure_rate', team, {{ to_local_date('deployed_at') }}, case when is_failed then 1.0 else 0.0 end
    from {{ ref('fct_deployments') }}
    union all
    select 'deployment_rework_rate', team, {{ to_local_date('deployed_at') }}, case when is_rework then 1.0 else 0.0 end
    from {{ ref('fct_deployments') }}
    union all
    select 'time_to_patch_p50', team, closed_day, cast(time_to_patch_s as double)
    from {{ ref('int_security__patch_fixes') }}

),

scoped_facts as (

    {{ rows_per_scope('select * from facts', maturity_scopes()) }}

),

periods as (

    {{ maturity_recent_and_prior('scoped_facts', rate_kpis) }}

),

elite as (

    select metric, comparison, threshold
    from {{ ref('dora_tier_thresholds') }}
    where benchmark_year = {{ dora_benchmark_year() }} and tier = 'elite'

),

paired as (

    select
        periods.*,
        case periods.kpi
        {%- for kpi, metric in dora_metrics.items() %}
            when '{{ kpi }}' then '{{ metric }}'
        {%- endfor %}
        end as dora_metric
    from periods

),

judged as (

    select
        paired.day,
        paired.scope_type,
        paired.scope_id,
        paired.kpi,
        paired.recent_value,
        paired.recent_sample_size,
        paired.prior_value,
        paired.prior_sample_size,
        coalesce(paired.recent_sample_size >= 5 and paired.prior_sample_size >= 5, false) as samples_sufficient,
        coalesce(paired.recent_sample_size >= 5 and paired.prior_sample_size >= 5
                 and paired.recent_value <= 0.95 * paired.prior_value + 1e-9 * greatest(1, abs(paired.prior_value)),
                 false) as improved,
        coalesce(paired.recent_sample_size >= 5 and paired.prior_sample_size >= 5
                 and {{ dora_meets_threshold('paired.recent_value', 'elite.comparison', 'elite.threshold') }}
                 and {{ dora_meets_threshold('paired.prior_value', 'elite.comparison', 'elite.threshold') }},
                 false) as elite_both
    from paired
    left join elite
        on elite.metric = paired.dora_metric

)

select *, improved or elite_both as is_improving
from judged
