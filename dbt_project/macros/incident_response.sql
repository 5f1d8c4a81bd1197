{#-
    The incident response figures per scope and reporting day (definitions: docs/metrics.md "Incidents"), shared
    by mart_incident_response_daily (every incident) and mart_security_incidents_daily (the security subset), so
    a subset's MTTA / MTTR / open count is the same arithmetic as the whole's.

      days           relation or CTE: day, day_start_at, day_end_at (the days to compute)
      scope_members  relation or CTE: scope_type, scope_id, service_id (which services a scope pools)
      incidents      relation or CTE: service_id, created_at, acknowledged_at, resolved_at, tta_s, ttr_s

    Dense: every scope of scope_members x every day. incidents_created / MTTA by the local day of creation (MTTA
    over those acknowledged by as_of), incidents_resolved / MTTR by the local day of resolution, open at the end of
    the day = created before it and not resolved by then (resolved_at is NULL when after as_of, so the last day
    ends at as_of). Means from integer microseconds (exact, independent of summation order); percentiles exact
    (quantile_cont); an empty sample gives NULL with sample size 0.
-#}
{% macro incident_response_figures(days, scope_members, incidents) -%}
    with scopes as (

        select distinct scope_type, scope_id
        from {{ scope_members }}

    ),

    scoped_incidents as (

        select
            scope_members.scope_type,
            scope_members.scope_id,
            incidents.created_at,
            incidents.resolved_at,
            incidents.tta_s,
            incidents.ttr_s,
            {{ epoch_us('incidents.acknowledged_at') }} - {{ epoch_us('incidents.created_at') }} as tta_us,
            {{ epoch_us('incidents.resolved_at') }} - {{ epoch_us('incidents.created_at') }} as ttr_us
        from {{ incidents }} as incidents
        inner join {{ scope_members }} as scope_members
            on incidents.service_id = scope_members.service_id

    ),

    {#- the same statistics by the day of creation (TTA) and by the day of the last resolution (TTR) -#}
    {%- for event, at, span in [('created', 'created_at', 'tta'), ('resolved', 'resolved_at', 'ttr')] %}
    {{ event }}_stats as (

        select
            scope_type,
            scope_id,
            {{ to_local_date(at) }} as day,
            count(*) as incidents_{{ event }},
            sum({{ span }}_us) / (count({{ span }}_us) * 1000000.0) as m{{ span }}_s_mean,
            {{ quantile_cont(span ~ '_s', 0.5) }} as m{{ span }}_s_p50,
            {{ quantile_cont(span ~ '_s', 0.9) }} as m{{ span }}_s_p90,
            count({{ span }}_s) as m{{ span }}_sample_size
        from scoped_incidents
        where {{ at }} is not null
        group by 1, 2, 3

    ),
    {%- endfor %}

    open_stats as (

        select
            scoped_incidents.scope_type,
            scoped_incidents.scope_id,
            days.day,
            count(*) as open_at_end_of_day
        from scoped_incidents
        inner join {{ days }} as days
            on scoped_incidents.created_at < days.day_end_at
            and (scoped_incidents.resolved_at is null or scoped_incidents.resolved_at >= days.day_end_at)
        group by 1, 2, 3

    )

    select
        days.day,
        scopes.scope_type,
        scopes.scope_id,
        coalesce(created_stats.incidents_created, 0) as incidents_created,
        coalesce(resolved_stats.incidents_resolved, 0) as incidents_resolved,
        coalesce(open_stats.open_at_end_of_day, 0) as open_at_end_of_day,
        case when created_stats.mtta_sample_size > 0 then created_stats.mtta_s_mean end as mtta_s_mean,
        cast(created_stats.mtta_s_p50 as double precision) as mtta_s_p50,
        cast(created_stats.mtta_s_p90 as double precision) as mtta_s_p90,
        coalesce(created_stats.mtta_sample_size, 0) as mtta_sample_size,
        case when resolved_stats.mttr_sample_size > 0 then resolved_stats.mttr_s_mean end as mttr_s_mean,
        cast(resolved_stats.mttr_s_p50 as double precision) as mttr_s_p50,
        cast(resolved_stats.mttr_s_p90 as double precision) as mttr_s_p90,
        coalesce(resolved_stats.mttr_sample_size, 0) as mttr_sample_size
    from {{ days }} as days
    cross join scopes
    left join created_stats
        on created_stats.day = days.day
        and created_stats.scope_type = scopes.scope_type
        and created_stats.scope_id = scopes.scope_id
    left join resolved_stats
        on resolved_stats.day = days.day
        and resolved_stats.scope_type = scopes.scope_type
        and resolved_stats.scope_id = scopes.scope_id
    left join open_stats
        on open_stats.day = days.day
        and open_stats.scope_type = scopes.scope_type
        and open_stats.scope_id = scopes.scope_id
{%- endmacro %}
