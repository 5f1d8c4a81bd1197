{#-
    Per PagerDuty incident, what its state-change log entries (trigger, acknowledge, unacknowledge, resolve) say
    up to as_of. `entries` is a relation or CTE with the columns of stg_pagerduty__log_entries (incident_id,
    log_entry_id, log_entry_type, created_at). Shared by int_pagerduty_incident_log_summary and the
    incremental fct_incidents, which runs it on the entries of the changed incidents only.

    A reopen is a trigger or acknowledge entry whose previous state-change entry (time order; at equal
    times trigger < acknowledge < resolve) is a resolve entry: resolved -> triggered -> resolved counts 1,
    repeated triggers after one resolve count once, and the final resolution counts nothing.
    `as_of_expr` replaces the run's as_of (incremental_code_md5 renders the definition with a placeholder).
-#}
{% macro summarize_pagerduty_log_entries(entries, as_of_expr=none) -%}
    with state_changes as (

        select
            incident_id,
            log_entry_id,
            log_entry_type,
            created_at,
            case log_entry_type
                when 'trigger_log_entry' then 1
                when 'acknowledge_log_entry' then 2
                when 'unacknowledge_log_entry' then 3
                else 4
            end as state_order
        from {{ entries }}
        where incident_id is not null
          and created_at <= {{ as_of_expr or as_of() }}
          and log_entry_type in ('trigger_log_entry', 'acknowledge_log_entry', 'unacknowledge_log_entry',
                                 'resolve_log_entry')

    ),

    sequenced as (

        select
            *,
            lag(log_entry_type) over (
                partition by incident_id
                order by created_at, state_order, log_entry_id
            ) as previous_log_entry_type
        from state_changes

    )

    select
        incident_id,
        min(created_at) filter (where log_entry_type = 'trigger_log_entry') as first_triggered_at,
        min(created_at) filter (where log_entry_type = 'acknowledge_log_entry') as first_acknowledged_at,
        min(created_at) filter (where log_entry_type = 'resolve_log_entry') as first_resolved_at,
        max(created_at) filter (where log_entry_type = 'resolve_log_entry') as last_resolved_at,
        count(*) filter (where log_entry_type = 'acknowledge_log_entry') as acknowledge_count,
        count(*) filter (where log_entry_type = 'resolve_log_entry') as resolve_count,
        count(*) filter (
            where log_entry_type in ('trigger_log_entry', 'acknowledge_log_entry')
              and previous_log_entry_type = 'resolve_log_entry'
        ) as reopen_count,
        -- the state the entries leave the incident in at as_of (an acknowledgement that timed out is an
        -- unacknowledge entry: triggered again), so a replay of a past day shows that day's status, not today's
        {{ last_ordered(
            "case log_entry_type
                when 'acknowledge_log_entry' then 'acknowledged'
                when 'resolve_log_entry' then 'resolved'
                else 'triggered'
            end",
            'created_at, state_order, log_entry_id') }} as status_at_as_of
    from sequenced
    group by incident_id
{%- endmacro %}
