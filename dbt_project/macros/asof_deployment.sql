{#-
    Pair each event of a repository with one deployment of the same repository, in one sorted pass instead of
    a join of every event with every deployment (which grows with events x deployments per repository):

      direction='next'      the first deployment at or after the event's `event_at` (a pull request's deployment);
                            ties on deployed_at go to the smallest deployment_id;
      direction='previous'  the last deployment at or before `event_at` (the deployment an incident, revert or
                            hotfix is attributed to); ties go to the largest deployment_id, the one whose
                            next_deployed_at is not that same instant.

    `events` is a relation or CTE name with columns repo, event_at and the event's own columns; the result has every
    event column plus deployment_id and deployed_at (NULL when there is none). Portable SQL: a running min/max
    over the union of events and deployment instants, ordered by time, then a join back to the instant's id.
-#}
{% macro asof_deployment(events, event_columns, direction) -%}
    {%- set next = direction == 'next' -%}
    {%- if direction not in ('next', 'previous') -%}
        {{ exceptions.raise_compiler_error("asof_deployment: direction must be 'next' or 'previous', got '" ~ direction ~ "'") }}
    {%- endif -%}
    with deployment_instants as (

        select repo, deployed_at, {{ 'min' if next else 'max' }}(deployment_id) as deployment_id
        from {{ ref('int_dora_deployments') }}
        group by repo, deployed_at

    ),

    timeline as (

        -- at equal instants the deployment sorts first: "at or after" / "at or before" include it
        select repo, event_at, 1 as is_event, {{ event_columns | join(', ') }}, cast(null as timestamptz) as deployed_at
        from {{ events }}
        union all
        select repo, deployed_at, 0{% for column in event_columns %}, null{% endfor %}, deployed_at
        from deployment_instants

    ),

    paired as (

        select
            repo, event_at, is_event, {{ event_columns | join(', ') }},
            {{ 'min' if next else 'max' }}(deployed_at) over (
                partition by repo
                order by event_at {{ 'desc' if next else 'asc' }}, is_event
                rows between unbounded preceding and current row
            ) as deployed_at
        from timeline

    )

    select paired.repo, paired.event_at, {% for column in event_columns %}paired.{{ column }}, {% endfor -%}
        deployment_instants.deployment_id, paired.deployed_at
    from paired
    left join deployment_instants
        on paired.repo = deployment_instants.repo
        and paired.deployed_at = deployment_instants.deployed_at
    where paired.is_event = 1
{%- endmacro %}
