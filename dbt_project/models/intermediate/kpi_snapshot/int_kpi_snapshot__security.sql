{{ config(tags=['kpi_snapshot_area']) }}
-- KPI area "security" of the nightly snapshot (definitions: docs/metrics.md "Security posture"), scopes org / team /
-- repo of mart_security_posture_daily, every date of int_kpi_snapshot_windows:
--   alerts_open_critical / _high / _medium / _low, alerts_in_breach (count): window 1d, open at the end of the day
--     (all tools); sample_size = the count; 0 on dates without posture data
--   sla_compliance (pct): window 1d, 100 x open within SLA / open; NULL with sample_size 0 when nothing is open
--   time_to_remediate_mean / _p50 (s): fixed and resolved alerts closed in the window (local days), pooled;
--     windows 1d / 7d / 30d; NULL with sample_size 0 when none

with windows as (

    select snapshot_date, "window", window_start_day
    from {{ ref('int_kpi_snapshot_windows') }}

),

posture as (

    select day, scope_type, scope_id, severity, sum(open) as open, sum(in_breach) as in_breach
    from {{ ref('mart_security_posture_daily') }}
    group by all

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
    group by all

),

remediations as (

    {{ security_scoped("select closed_day, repo, team, time_to_remediate_s from " ~ ref('int_security__closings')
                       ~ " where is_remediation") }}

),

ttr as (

    select
        windows.snapshot_date,
        windows."window",
        scopes.scope_type,
        scopes.scope_id,
        avg(remediations.time_to_remediate_s) as mean_s,
        quantile_cont(remediations.time_to_remediate_s, 0.5) as p50_s,
        count(remediations.time_to_remediate_s) as sample_size
    from windows
    cross join scopes
    left join remediations
        on remediations.scope_type = scopes.scope_type
        and remediations.scope_id = scopes.scope_id
        and remediations.closed_day between windows.window_start_day and windows.snapshot_date
    group by all

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
