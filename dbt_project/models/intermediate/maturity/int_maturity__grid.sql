{{ config(materialized='table', tags=['every_run', 'maturity_area']) }}
-- The maturity scorecard's grid: every day the KPI marts cover (the union of the reporting calendar and the DORA
-- grid, to run_date) x every scope (org and each team named by the configuration: its services, repositories or
-- Jira projects), with the UTC end of the day (attestations are judged there) and how many assets of each kind
-- the scope has. A criterion whose applies_to kind the scope has none of is not_applicable (contract §7).
-- A table: the scorecard joins it once per evidence query.

with days as (

    select day from {{ ref('int_reporting_days_spined') }}
    union
    select day from {{ ref('mart_dora_daily') }}

),

bounds as (

    select min(day) as first_day, {{ run_date() }} as last_day from days

),

spine as (

    {{ day_spine('first_day', 'last_day', from_clause='bounds') }}

),

services as (

    select service_id, team from {{ ref('int_services_mapped_to_teams') }} where is_configured

),

repos as (

    select repo, team from {{ ref('int_dora_repos') }}

),

projects as (

    select project_key, team from {{ ref('stg_jira__project_teams') }}

),

assets as (

    select 'service' as kind, service_id as asset_id, team from services
    union all
    select 'repo', repo, team from repos
    union all
    select 'project', project_key, team from projects

),

scoped_assets as (

    {{ rows_per_scope('select * from assets', maturity_scopes()) }}

),

scopes as (

    select 'org' as scope_type, 'org' as scope_id
    union
    select distinct 'team', team from assets where team is not null and team <> 'unassigned'

),

counts as (

    select
        scope_type,
        scope_id,
        count(distinct asset_id) filter (where kind = 'service') as services,
        count(distinct asset_id) filter (where kind = 'repo') as repos,
        count(distinct asset_id) filter (where kind = 'project') as projects
    from scoped_assets
    group by scope_type, scope_id

)

select
    spine.day,
    {{ local_midnight_utc('spine.day + 1') }} as day_end_at,
    scopes.scope_type,
    scopes.scope_id,
    coalesce(counts.services, 0) as services,
    coalesce(counts.repos, 0) as repos,
    coalesce(counts.projects, 0) as projects
from spine
cross join scopes
left join counts
    on counts.scope_type = scopes.scope_type
    and counts.scope_id = scopes.scope_id
where spine.day is not null
