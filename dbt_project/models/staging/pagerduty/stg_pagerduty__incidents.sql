with source as (

    select id, created_at, record, _loaded_at
    from {{ source('pagerduty', 'incidents') }}

),

renamed as (

    select
        id as incident_id,
        cast(record->>'$.incident_number' as bigint) as incident_number,
        record->>'$.title' as title,
        record->>'$.status' as status,
        record->>'$.urgency' as urgency,
        record->>'$.service.id' as service_id,
        record->>'$.service.summary' as service_name,
        record->>'$.priority.id' as priority_id,
        -- a full priority object has `name`; a priority reference only has `summary`
        coalesce(record->>'$.priority.name', record->>'$.priority.summary') as priority_name,
        -- PagerDuty Incident Types (the security incident rules read it); NULL on accounts without them
        record->>'$.incident_type.name' as incident_type_name,
        json_extract_string(record, '$.teams[*].id') as team_ids,
        -- time to detect: alerts the incident holds, and the incident a merge resolved it into
        try_cast(record->>'$.alert_counts.all' as bigint) as alert_count,
        case
            when record->>'$.resolve_reason.type' = 'merge_resolve_reason'
                then record->>'$.resolve_reason.incident.id'
        end as merged_into_incident_id,
        created_at,
        {{ api_timestamp("record->>'$.updated_at'") }} as updated_at,
        -- resolved_at is in the API since 2023-05; older payloads only carry last_status_change_at
        coalesce(
            {{ api_timestamp("record->>'$.resolved_at'") }},
            case
                when record->>'$.status' = 'resolved'
                    then {{ api_timestamp("record->>'$.last_status_change_at'") }}
            end
        ) as resolved_at,
        _loaded_at

    from source

)

select
    *,
    resolved_at is null as is_open,
    case
        when resolved_at is not null then {{ seconds_between('created_at', 'resolved_at') }}
    end as time_to_resolve_s
from renamed
