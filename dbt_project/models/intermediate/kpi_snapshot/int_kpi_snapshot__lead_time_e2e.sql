{{ config(tags=['kpi_snapshot_area']) }}
-- KPI area "lead_time_e2e" (end-to-end lead time) of the nightly snapshot (definitions: docs/metrics.md "End-to-end
-- lead time"), dense over the scopes of mart_e2e_lead_time_daily (org, team, project), each window recomputed from
-- fct_issue_delivery (pooled, exact); no rows at all while no project is known (Jira not set up):
--   e2e_lead_time_p50      idea to deploy (s) of the issues delivered in the window (by delivered_day);
--                          sample_size = those issues (NULL value when 0)
--   start_to_deploy_p50    start to deploy (s) of those that were ever in progress; sample_size = those
--   e2e_link_coverage      100 x eligible done issues with a linked merged PR / eligible done issues, by the day of
--                          their last move to done (pct); sample_size = eligible done issues
-- For window 1d the values equal mart_e2e_lead_time_daily's.

with windows as (

    select snapshot_date, "window", window_start_day
    from {{ ref('int_kpi_snapshot_windows') }}

),

scopes as (

    select distinct scope_type, scope_id
    from {{ ref('mart_e2e_lead_time_daily') }}
    where exists (select 1 from {{ ref('mart_e2e_lead_time_daily') }} where scope_type = 'project')

),

issues as (

    select project, team, delivered_day, done_day, idea_to_deploy_s, start_to_deploy_s, has_linked_pull_request,
        delivery_status
    from {{ ref('fct_issue_delivery') }}
    where is_eligible

),

scoped_issues as (

    {{ rows_per_scope('select * from issues', [('project', 'project'), ('team', 'team'), ('org', "'org'")]) }}

),

delivered as (

    select * from scoped_issues where delivery_status = 'delivered'

),

spans as (

    {{ security_window_stats('delivered', 'delivered_day', [
        ('sample', 'count(delivered.idea_to_deploy_s)'),
        ('p50_s', percentile('delivered.idea_to_deploy_s', 0.5)),
        ('start_sample', 'count(delivered.start_to_deploy_s)'),
        ('start_p50_s', percentile('delivered.start_to_deploy_s', 0.5)),
    ]) }}

),

coverage as (

    {{ security_window_stats('scoped_issues', 'done_day', [
        ('done_eligible', 'count(scoped_issues.done_day)'),
        ('done_linked', 'count(scoped_issues.done_day) filter (where scoped_issues.has_linked_pull_request)'),
    ]) }}

)

select snapshot_date, 'e2e_lead_time_p50' as kpi, scope_type, scope_id, "window", cast(p50_s as double precision) as value,
       's' as unit, sample as sample_size
from spans
union all
select snapshot_date, 'start_to_deploy_p50', scope_type, scope_id, "window", cast(start_p50_s as double precision), 's',
       start_sample
from spans
union all
select snapshot_date, 'e2e_link_coverage', scope_type, scope_id, "window",
       case when done_eligible > 0 then 100.0 * done_linked / done_eligible end, 'pct', done_eligible
from coverage
