-- mart_incident_response_daily has exactly one row per (scope x spine day): no gaps, no extras.
with services as (

    select service_id, team from {{ ref('int_incident_services_mapped_to_teams') }}

),

expected as (

    select
        (
            (select count(*) from services)
            + (select count(distinct team) from services)
            + (select least(count(*), 1) from services)
        ) * (select count(*) from {{ ref('int_reporting_days_spined') }}) as n_rows

),

actual as (

    select count(*) as n_rows from {{ ref('mart_incident_response_daily') }}

)

select expected.n_rows as expected_rows, actual.n_rows as actual_rows
from expected, actual
where expected.n_rows <> actual.n_rows
