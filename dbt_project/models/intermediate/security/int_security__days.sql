{{ config(tags=['every_run']) }}
-- The security posture calendar: one row per local day from the first day the alert data is complete for to
-- run_date, with the day's bounds and `eval_at` = the instant the day is judged at (its end; as_of on run_date).
-- Complete from: the later of the first alert's creation day and the start of the first extraction window
-- (meta.stream_coverage): before that window closed alerts were not read, so open counts would be too low.

{%- set coverage = source('meta', 'stream_coverage') %}

with first_alert as (

    select min({{ to_local_date('created_at') }}) as first_day
    from {{ ref('fct_security_alerts') }}
    where created_at < {{ as_of() }}

),

first_window as (

    {%- if security_relation_exists(coverage) %}
    select min({{ to_local_date('window_start') }}) as first_day
    from {{ coverage }}
    where source = 'github'
      and stream in ('dependabot_alerts', 'code_scanning_alerts', 'secret_scanning_alerts')
    {%- else %}
    select cast(null as date) as first_day
    {%- endif %}

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
