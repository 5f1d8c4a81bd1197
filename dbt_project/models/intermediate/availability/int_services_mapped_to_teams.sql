-- Every service we report on: the PagerDuty service directory plus any service id that only appears
-- on incidents, mapped to its team and SLO. Services missing from the configuration are kept as
-- team `unassigned` with the default SLO; configured ids that PagerDuty does not know are ignored.

with directory_services as (

    select service_id, service_name
    from {{ ref('stg_pagerduty__services') }}

),

incident_services as (

    select
        service_id,
        {{ arg_max('service_name', 'created_at') }} as service_name
    from {{ ref('stg_pagerduty__incidents') }}
    where service_id is not null
    group by service_id

),

all_services as (

    select
        coalesce(directory_services.service_id, incident_services.service_id) as service_id,
        coalesce(directory_services.service_name, incident_services.service_name) as service_name,
        directory_services.service_id is not null as is_in_service_directory
    from directory_services
    full outer join incident_services
        on directory_services.service_id = incident_services.service_id

),

configured as (

    select service_id, team, slo_target_pct
    from {{ ref('stg_config__services') }}

)

select
    all_services.service_id,
    coalesce(all_services.service_name, all_services.service_id) as service_name,
    coalesce(configured.team, 'unassigned') as team,
    coalesce(configured.slo_target_pct, {{ default_slo_target_pct() }}) as slo_target_pct,
    configured.service_id is not null as is_configured,
    all_services.is_in_service_directory
from all_services
left join configured
    on all_services.service_id = configured.service_id
