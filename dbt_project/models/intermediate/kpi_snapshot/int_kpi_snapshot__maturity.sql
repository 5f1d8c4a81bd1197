{{ config(tags=['kpi_snapshot_area']) }}
-- KPI area "maturity" of the nightly snapshot (definitions: docs/metrics.md "Maturity scorecard"): the maturity
-- level of mart_maturity_level_daily per scope (org, team) and date, window 1d only (the state on the date);
-- unit `level` (1 Initial .. 5 Optimizing); sample_size = the criteria evaluated. The mart is recomputed for every
-- day under the selected rubric; the snapshot keeps what each night showed, so a rubric switch rewrites the mart's
-- history but not the snapshot's earlier dates.

select
    levels.day as snapshot_date,
    'maturity_level' as kpi,
    levels.scope_type,
    levels.scope_id,
    '1d' as "window",
    cast(levels.level as double precision) as value,
    'level' as unit,
    levels.criteria_total as sample_size
from {{ ref('mart_maturity_level_daily') }} as levels
inner join {{ ref('int_kpi_snapshot_windows') }} as windows
    on windows.snapshot_date = levels.day
    and windows."window" = '1d'
