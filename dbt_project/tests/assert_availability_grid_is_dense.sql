-- mart_availability_daily has exactly one row per (reported service x spine day): no gaps, no extras.
with expected as (

    select
        (select count(*) from {{ ref('int_services_mapped_to_teams') }})
        * (select count(*) from {{ ref('int_reporting_days_spined') }}) as n_rows

),

actual as (

    select count(*) as n_rows from {{ ref('mart_availability_daily') }}

)

select expected.n_rows as expected_rows, actual.n_rows as actual_rows
from expected, actual
where expected.n_rows <> actual.n_rows
