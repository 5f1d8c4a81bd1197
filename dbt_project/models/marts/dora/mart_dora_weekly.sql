-- Deployment frequency per ISO week (weeks start Monday) and scope: deployments and deployment days
-- (days with at least one deployment). days_covered < 7 marks the partial first and last weeks.

select
    date_trunc('week', day)::date as week_start,
    scope_type,
    scope_id,
    sum(deployments) as deployments,
    count(*) filter (where deployments > 0) as deployment_days,
    count(*) as days_covered,
    {{ date_key("date_trunc('week', day)::date") }} as date_key,
    {{ scope_keys('scope_type', 'scope_id', ['repository']) }}
from {{ ref('mart_dora_daily') }}
group by date_trunc('week', day)::date, scope_type, scope_id
