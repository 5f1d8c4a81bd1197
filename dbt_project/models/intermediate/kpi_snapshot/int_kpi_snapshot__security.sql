{{ config(tags=['kpi_snapshot_area']) }}
-- KPI area "security" of the nightly snapshot (definitions: docs/metrics.md "Security posture"), scopes org / team /
-- repo of mart_security_posture_daily, every date of int_kpi_snapshot_windows:
--   alerts_open_critical / _high / _medium / _low, alerts_in_breach (count): window 1d, open at the end of the day
--     (all tools); sample_size = the count; 0 on dates without posture data
--   sla_compliance (pct): window 1d, 100 x open within SLA / open; NULL with sample_size 0 when nothing is open
--   time_to_remediate_mean / _p50 (s): fixed and resolved alerts closed in the window (local days), pooled;
--     windows 1d / 7d / 30d; NULL with sample_size 0 when none
-- and patch compliance (docs/metrics.md "Patch compliance"), Dependabot alerts not withdrawn:
--   time_to_patch_mean / _p50, disclosure_to_patch_p50 (s): fixes in the window (int_security__patch_fixes);
--     windows 1d / 7d / 30d; sample_size = fixes (disclosure: fixes with a published_at)
--   patch_compliance (pct): 100 x met / (met + missed) of the decisions in the window; sample_size = decided
--   patch_policy_breaches (count): window 1d, mart_patch_compliance_daily.past_policy of the date (all severities)

with windows as (

    select snapshot_date, "window", window_start_day
    from {{ ref('int_kpi_snapshot_windows') }}

),

posture as (

    select day, scope_type, scope_id, severity, sum(open) as open, sum(in_breach) as in_breach
    from {{ ref('mart_security_posture_daily') }}
    group by day, scope_type, scope_id, severity

),

scopes as (

    select distinct scope_type, scope_id from posture

),

day_grid as (

    select windows.snapshot_date, scopes.scope_type, scopes.scope_id
    from windows
    cross join scopes
    where windows."window" = '1d'

),

open_counts as (

    select
        day_grid.snapshot_date,
        day_grid.scope_type,
        day_grid.scope_id,
        {%- for severity in ['critical', 'high', 'medium', 'low'] %}
        coalesce(sum(posture.open) filter (where posture.severity = '{{ severity }}'), 0) as open_{{ severity }},
        {%- endfor %}
        coalesce(sum(posture.open), 0) as open_all,
        coalesce(sum(posture.in_breach), 0) as in_breach
    from day_grid
    left join posture
        on posture.day = day_grid.snapshot_date
        and posture.scope_type = day_grid.scope_type
        and posture.scope_id = day_grid.scope_id
    group by day_grid.snapshot_date, day_grid.scope_type, day_grid.scope_id

),

remediations as (

    {{ security_scoped("select closed_day, repo, team, time_to_remediate_s from " ~ ref('int_security__closings')
                       ~ " where is_remediation") }}

),

ttr as (

    {{ security_window_stats('remediations', 'closed_day', [
        ('mean_s', 'avg(remediations.time_to_remediate_s)'),
        ('p50_s', quantile_cont('remediations.time_to_remediate_s', 0.5)),
        ('sample_size', 'count(remediations.time_to_remediate_s)')]) }}

),

patch_fixes as (

    {{ security_scoped("select closed_day, repo, team, time_to_patch_s, disclosure_to_patch_s from "
                       ~ ref('int_security__patch_fixes')) }}

),

patch_times as (

    {{ security_window_stats('patch_fixes', 'closed_day', [
        ('mean_s', 'avg(patch_fixes.time_to_patch_s)'),
        ('p50_s', quantile_cont('patch_fixes.time_to_patch_s', 0.5)),
        ('sample_size', 'count(patch_fixes.time_to_patch_s)'),
        ('disclosure_p50_s', quantile_cont('patch_fixes.disclosure_to_patch_s', 0.5)),
        ('disclosure_sample_size', 'count(patch_fixes.disclosure_to_patch_s)')]) }}

),

patch_decisions as (

    {{ security_scoped("select decided_day, repo, team, outcome from " ~ ref('int_security__patch_alerts')
                       ~ " where outcome in ('met', 'missed')") }}

),

patch_compliance as (

    {{ security_window_stats('patch_decisions', 'decided_day', [
        ('met', "count(*) filter (where patch_decisions.outcome = 'met')"),
        ('decided', 'count(patch_decisions.outcome)')]) }}

),

patch_breaches as (

    select day_grid.snapshot_date, day_grid.scope_type, day_grid.scope_id, coalesce(patch.past_policy, 0) as breaches
    from day_grid
    left join {{ ref('mart_patch_compliance_daily') }} as patch
        on patch.day = day_grid.snapshot_date
        and patch.scope_type = day_grid.scope_type
        and patch.scope_id = day_grid.scope_id
        and patch.severity = 'all'

)

{%- for severity in ['critical', 'high', 'medium', 'low'] %}
select snapshot_date, 'alerts_open_{{ severity }}' as kpi, scope_type, scope_id, '1d' as "window",
       open_{{ severity }} as value, 'count' as unit, open_{{ severity }} as sample_size
from open_counts
union all
{%- endfor %}
select snapshot_date, 'alerts_in_breach', scope_type, scope_id, '1d', in_breach, 'count', in_breach
from open_counts
union all
select snapshot_date, 'sla_compliance', scope_type, scope_id, '1d',
       case when open_all > 0 then 100.0 * (open_all - in_breach) / open_all end, 'pct', open_all
from open_counts
union all
select snapshot_date, 'time_to_remediate_mean', scope_type, scope_id, "window", mean_s, 's', sample_size from ttr
union all
select snapshot_date, 'time_to_remediate_p50', scope_type, scope_id, "window", p50_s, 's', sample_size from ttr
union all
select snapshot_date, 'time_to_patch_mean', scope_type, scope_id, "window", mean_s, 's', sample_size from patch_times
union all
select snapshot_date, 'time_to_patch_p50', scope_type, scope_id, "window", p50_s, 's', sample_size from patch_times
union all
select snapshot_date, 'disclosure_to_patch_p50', scope_type, scope_id, "window", disclosure_p50_s, 's',
       disclosure_sample_size
from patch_times
union all
select snapshot_date, 'patch_compliance', scope_type, scope_id, "window",
       case when decided > 0 then 100.0 * met / decided end, 'pct', decided
from patch_compliance
union all
select snapshot_date, 'patch_policy_breaches', scope_type, scope_id, '1d', breaches, 'count', breaches
from patch_breaches
