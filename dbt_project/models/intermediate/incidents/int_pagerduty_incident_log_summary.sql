{{ config(tags=['every_run']) }}
-- Per PagerDuty incident, what its state-change log entries (trigger, acknowledge, resolve) say up to
-- as_of: the first acknowledgement and how often it was reopened. Entries after as_of are ignored, as if
-- the run happened at as_of. Incidents without log entries have no row (no log entries loaded yet).
-- The logic (and the exact reopen rule) is in macros/incident_log_entries.sql, shared with fct_incidents.

with log_entries as (

    select incident_id, log_entry_id, log_entry_type, created_at
    from {{ ref('stg_pagerduty__log_entries') }}

),

summary as (

    {{ summarize_pagerduty_log_entries('log_entries') }}

)

select * from summary
