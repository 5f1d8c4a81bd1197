with source as (

    select id, created_at, record, _loaded_at
    from {{ source('pagerduty', 'incidents') }}

),

renamed as (

    select
        id as incident_id,
        cast({{ json_text('record', 'incident_number') }} as bigint) as incident_number,
        {{ json_text('record', 'title') }} as title,
        {{ json_text('record', 'status') }} as status,
        {{ json_text('record', 'urgency') }} as urgency,
        {{ json_text('record', 'service.id') }} as service_id,
        {{ json_text('record', 'service.summary') }} as service_name,
        {{ json_text('record', 'priority.id') }} as priority_id,
        -- a full priority object has `name`; a priority reference only has `summary`
        coalesce({{ json_text('record', 'priority.name') }}, {{ json_text('record', 'priority.summary') }}) as priority_name,
        -- PagerDuty Incident Types (the security incident rules read it); NULL on accounts without them
        {{ json_text('record', 'incident_type.name') }} as incident_type_name,
        {{ json_array_texts('record', 'teams', 'id') }} as team_ids,
        -- time to detect: alerts the incident holds, and the incident a merge resolved it into
        {{ try_cast(json_text('record', 'alert_counts.all'), 'bigint') }} as alert_count,
        case
            when {{ json_text('record', 'resolve_reason.type') }} = 'merge_resolve_reason'
                then {{ json_text('record', 'resolve_reason.incident.id') }}
        end as merged_into_incident_id,
        created_at,
        {{ api_timestamp(json_text('record', 'updated_at')) }} as updated_at,
        -- resolved_at is in the API since 2023-05; older payloads only carry last_status_change_at
        coalesce(
            {{ api_timestamp(json_text('record', 'resolved_at')) }},
            case
                when {{ json_text('record', 'status') }} = 'resolved'
                    then {{ api_timestamp(json_text('record', 'last_status_change_at')) }}
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
