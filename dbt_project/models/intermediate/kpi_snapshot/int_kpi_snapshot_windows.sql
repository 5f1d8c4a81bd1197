-- The dates a KPI snapshot can be taken for (every day of int_reporting_days_spined, i.e. the first day in
-- the data window to run_date) x the windows 1d / 7d / 30d ending with that date, with their bounds: the
-- first and last local day, and the UTC instants of local midnight at the window's start and end.
-- Area models join their marts to this; kpi_daily_snapshot keeps the dates it writes (run_date, or all
-- dates when the table is created).

with dates as (

    select day as snapshot_date, day_end_at as window_end_at
    from {{ ref('int_reporting_days_spined') }}

),

windows as (

    {%- for name, days in kpi_snapshot_windows() %}
    select '{{ name }}' as "window", {{ days }} as window_days
    {{ "union all" if not loop.last }}
    {%- endfor %}

)

select
    dates.snapshot_date,
    windows."window",
    windows.window_days,
    dates.snapshot_date - (windows.window_days - 1) as window_start_day,
    dates.snapshot_date as window_end_day,
    {{ local_midnight_utc('dates.snapshot_date - (windows.window_days - 1)') }} as window_start_at,
    dates.window_end_at
from dates
cross join windows
