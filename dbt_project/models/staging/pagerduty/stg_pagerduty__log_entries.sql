with source as (

    select id, type, incident_id, created_at, record, _loaded_at
    from {{ source('pagerduty', 'log_entries') }}

),

renamed as (

    select
        id as log_entry_id,
        coalesce(type, {{ json_text('record', 'type') }}) as api_log_entry_type,
        coalesce(incident_id, {{ json_text('record', 'incident.id') }}) as incident_id,
        coalesce(created_at, {{ api_timestamp(json_text('record', 'created_at')) }}) as created_at,
        {{ json_text('record', 'summary') }} as summary,
        {{ json_text('record', 'agent.id') }} as agent_id,
        {{ json_text('record', 'agent.type') }} as agent_type,
        {{ json_text('record', 'agent.summary') }} as agent_name,
        {{ json_text('record', 'channel.type') }} as channel_type,
        _loaded_at

    from source

)

select
    log_entry_id,
    -- the spec's AcknowledgeLogEntry sub-schema says `acknowledgement_log_entry`, its enum (and the API)
    -- `acknowledge_log_entry`: accept both, expose one
    case
        when api_log_entry_type = 'acknowledgement_log_entry' then 'acknowledge_log_entry'
        else api_log_entry_type
    end as log_entry_type,
    api_log_entry_type,
    incident_id,
    created_at,
    summary,
    agent_id,
    agent_type,
    agent_name,
    channel_type,
    _loaded_at
from renamed
