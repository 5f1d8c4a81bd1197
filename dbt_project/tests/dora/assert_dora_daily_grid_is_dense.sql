-- mart_dora_daily has exactly (repos + teams + org) x days rows: no scope is missing a day.
with expected as (
    select
        (select count(distinct day) from {{ ref('mart_dora_daily') }})
        * ((select count(*) from {{ ref('int_dora_repos') }})
           + (select count(distinct team) from {{ ref('int_dora_repos') }})
           + 1) as n
)
select expected.n, actual.n
from expected, (select count(*) as n from {{ ref('mart_dora_daily') }}) as actual
where expected.n <> actual.n
