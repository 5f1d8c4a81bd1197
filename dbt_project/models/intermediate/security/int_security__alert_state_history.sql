{{
    config(
        materialized='incremental',
        tags=['every_run'],
        incremental_strategy='delete+insert',
        unique_key='snapshot_date',
        on_schema_change='fail',
        full_refresh=false,
        pre_hook="{% if is_incremental() %}delete from {{ this }} where snapshot_date = {{ run_date() }}{% endif %}",
    )
}}
-- What the API said about every security alert on each run's date: one row per snapshot_date (run_date) and
-- alert, with its state, closing and whether it was open at the run's as_of. A run replaces only its own date
-- (delete+insert), and full_refresh=false keeps the history through `dbt build --full-refresh`: reconstructing
-- past days from today's timestamps cannot see an alert that was dismissed and later reopened (the API clears
-- dismissed_at), this table can, and int_security__alert_days lets it win for the dates it covers.

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
    closed_at is null or closed_at >= {{ as_of() }} as is_open
from {{ ref('fct_security_alerts') }}
where created_at < {{ as_of() }}
