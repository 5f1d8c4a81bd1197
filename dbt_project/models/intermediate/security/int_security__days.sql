{{ config(tags=['every_run']) }}
-- The security posture calendar: one row per local day from the first day the alert data is complete for to
-- run_date, with the day's bounds and `eval_at` = the instant the day is judged at (its end; as_of on run_date).
-- Complete from: the later of the first alert's creation day and the start of the extraction window
-- (meta.stream_coverage, macros/history_window.sql): before it closed alerts were not read, so open counts would
-- be too low.

with first_alert as (

    select min({{ to_local_date('created_at') }}) as first_day
    from {{ ref('fct_security_alerts') }}
    where created_at < {{ as_of() }}

),

first_window as (

    -- the latest of the three streams' own starts (macros/history_window.sql): a walk that re-read one tool's
    -- alerts from months back makes that tool's history longer, not the others'
    -- (from the first day wholly inside it: first_whole_local_day)
    select {{ first_whole_local_day(history_window_start([('github', 'dependabot_alerts'),
                                                          ('github', 'code_scanning_alerts'),
                                                          ('github', 'secret_scanning_alerts')])) }} as first_day

),

bounds as (

    select
        least(coalesce(greatest(first_alert.first_day, first_window.first_day), first_alert.first_day, {{ run_date() }}),
              {{ run_date() }}) as first_day,
        {{ run_date() }} as last_day
    from first_alert
    cross join first_window

),

days as (

    {{ day_spine('first_day', 'last_day', from_clause='bounds') }}

)

select
    day,
    {{ local_midnight_utc('day') }} as day_start_at,
    {{ local_midnight_utc('day + 1') }} as day_end_at,
    least({{ local_midnight_utc('day + 1') }}, {{ as_of() }}) as eval_at
from days
