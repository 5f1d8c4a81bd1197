-- mart_jira_flow_daily has exactly one row per (scope x day) from the first issue's day to run_date.
with scopes as (

    select distinct scope_type, scope_id from {{ ref('mart_jira_flow_daily') }}

),

days as (

    select distinct day from {{ ref('mart_jira_flow_daily') }}

),

bounds as (

    select min(day) as first_day, max(day) as last_day, count(*) as n_days from days

),

expected as (

    select (select count(*) from scopes) * (select n_days from bounds) as n_rows

),

actual as (

    select count(*) as n_rows from {{ ref('mart_jira_flow_daily') }}

)

select expected.n_rows as expected_rows, actual.n_rows as actual_rows
from expected, actual, bounds
where expected.n_rows <> actual.n_rows
   or bounds.n_days <> {{ dbt.datediff('bounds.first_day', 'bounds.last_day', 'day') }} + 1
   or bounds.last_day <> {{ run_date() }}
   or not exists (select 1 from scopes where scope_type = 'org')
