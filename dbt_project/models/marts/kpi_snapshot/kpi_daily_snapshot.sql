{{
    config(
        materialized='incremental',
        tags=['every_run'],
        incremental_strategy='delete+insert',
        unique_key='snapshot_date',
        on_schema_change='append_new_columns',
        full_refresh=false,
        post_hook=["{{ drop_earlier_rows_of_run_date() }}",
                   "{{ fill_snapshot_keys(['service', 'repository', 'jira_project']) }}"],
    )
}}
-- The nightly KPI snapshot: one row per KPI, scope and window for run_date, stamped with the run that
-- computed it. A run replaces only its own date (delete+insert on snapshot_date); earlier dates are never
-- touched, so the table is the history of what ops leads were shown. full_refresh=false: `dbt build
-- --full-refresh` does not drop that history either.
--
-- When the table is created it is filled for every date the marts cover (first day in the data window to
-- run_date); rows of dates before run_date carry run_id 'backfill:<run_id>' (reconstructed, not shown then).
--
-- Each KPI area is one model (models/intermediate/kpi_snapshot/int_kpi_snapshot__<area>.sql, tagged
-- kpi_snapshot_area) listed here with the model of its day grid; an area whose marts do not exist yet renders no
-- rows. sample_complete: the row's window lies inside that grid, i.e. every day of it had complete input
-- (false: provisional, e.g. a 30-day figure in the first 29 days after a fresh install). Rows written before the
-- column existed have NULL (on_schema_change append_new_columns keeps the history).

{%- set areas = [
    ('int_kpi_snapshot__availability', 'int_reporting_days_spined'),
    ('int_kpi_snapshot__incidents', 'int_reporting_days_spined'),
    ('int_kpi_snapshot__dora', 'mart_dora_daily'),
    ('int_kpi_snapshot__jira_flow', 'mart_jira_flow_daily'),
    ('int_kpi_snapshot__security', 'int_security__days'),
    ('int_kpi_snapshot__security_incidents', 'int_reporting_days_spined'),
    ('int_kpi_snapshot__downtime_cost', 'int_reporting_days_spined'),
    ('int_kpi_snapshot__detection', 'int_reporting_days_spined'),
    ('int_kpi_snapshot__maturity', 'mart_maturity_level_daily'),
    ('int_kpi_snapshot__lead_time_e2e', 'mart_e2e_lead_time_daily'),
] %}

with areas as (

    {{ kpi_snapshot_union(areas) }}

)

select
    snapshot_date,
    kpi,
    scope_type,
    scope_id,
    "window",
    value,
    unit,
    sample_size,
    sample_complete,
    case
        when snapshot_date = {{ run_date() }} then {{ kpi_snapshot_run_id() }}
        else 'backfill:' || {{ kpi_snapshot_run_id() }}
    end as run_id,
    now() as computed_at,
    {{ date_key('snapshot_date') }} as date_key,
    {{ scope_keys('scope_type', 'scope_id', ['service', 'repository', 'jira_project']) }}  -- as fill_snapshot_keys
from areas
{%- if is_incremental() %}
where snapshot_date = {{ run_date() }}
{%- else %}
where snapshot_date <= {{ run_date() }}
{%- endif %}
