{{
    config(
        materialized='incremental',
        tags=['every_run'],
        incremental_strategy='append',
        on_schema_change='fail',
        full_refresh=false,
    )
}}
-- What the API said about every security alert on each run's date: one row per snapshot_date (run_date) and
-- alert, with its state, closing and whether it was open at the run's as_of. full_refresh=false keeps the history
-- through `dbt build --full-refresh`: reconstructing past days from today's timestamps cannot see an alert that was
-- dismissed and later reopened (the API clears dismissed_at), this table can, and int_security__alert_days lets it
-- win for the dates it covers.
-- The first capture of a date wins: a rerun adds only the alerts the date has no row for. The first is the one
-- read closest to that day; a backfill run weeks later reads today's API and would otherwise overwrite what was
-- seen then with what is known now (an alert reopened since would look open on a day it was closed).

select
    {{ run_date() }} as snapshot_date,
    {{ as_of() }} as captured_at,
    alert_key,
    repo,
    tool,
    severity,
    state,
    close_reason,
    closed_at,
    -- (an instant exactly at as_of: macros/security.sql security_day_end)
    closed_at is null or not {{ security_happened_by('closed_at', as_of()) }} as is_open
from {{ ref('fct_security_alerts') }} as alerts
where {{ security_happened_by('created_at', as_of()) }}
{%- if is_incremental() %}
  and not exists (
      select 1 from {{ this }} as captured
      where captured.snapshot_date = {{ run_date() }}
        and captured.alert_key = alerts.alert_key
  )
{%- endif %}
