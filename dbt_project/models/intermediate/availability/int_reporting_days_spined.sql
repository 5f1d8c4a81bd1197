{{ config(tags=['every_run']) }}
-- The reporting calendar: one row per day (in the reporting time zone) from the first day in the
-- data window (local day of the earliest incident created up to as_of, never before the history window of
-- macros/history_window.sql of the streams incidents come from: PagerDuty incidents, and Jira issues when var
-- jira_incident_issue_types names any) to run_date inclusive, with the day's real bounds in UTC (local midnights)
-- and its real length (82800 / 90000 s on DST changes).

{%- set incident_streams = [('pagerduty', 'incidents')]
        + ([('jira', 'issues')] if jira_incidents_enabled() else []) %}

with first_incident_days as (

    select min({{ to_local_date('created_at') }}) as first_day
    from {{ ref('stg_pagerduty__incidents') }}
    where created_at <= {{ as_of() }}

    union all

    -- of an incident type at as_of (replayed from the changelog)
    select min({{ to_local_date('created_at') }}) as first_day
    from {{ ref('fct_jira_issues') }}
    where created_at <= {{ as_of() }}
      and {{ is_jira_incident_type('issue_type') }}

),

bounds as (

    select
        {{ reporting_first_day('min(first_day)', incident_streams) }} as first_day,
        {{ run_date() }} as last_day
    from first_incident_days

),

days as (

    {{ day_spine('first_day', 'last_day', from_clause='bounds') }}

),

bounded as (

    select
        day,
        {{ local_midnight_utc('day') }} as day_start_at,
        {{ local_midnight_utc('day + 1') }} as day_end_at
    from days

)

select
    day,
    day_start_at,
    day_end_at,
    cast({{ int_div('(' ~ epoch_us('day_end_at') ~ ' - ' ~ epoch_us('day_start_at') ~ ')', '1000000') }} as bigint) as day_length_s
from bounded
