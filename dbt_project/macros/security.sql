{#- Security posture (docs/metrics.md "Security posture"): SLA days per severity and raw-table presence. -#}

{#- Var `security_sla_days` (severity -> days) merged over the defaults, as a VALUES list (severity, sla_days). -#}
{% macro security_sla_days_values() -%}
    {%- set defaults = {'critical': 15, 'high': 30, 'medium': 90, 'low': 180} -%}
    {%- set given = var('security_sla_days', {}) or {} -%}
    {%- if given is not mapping -%}
        {{ exceptions.raise_compiler_error("var security_sla_days must map severity -> days, got '" ~ given ~ "'") }}
    {%- endif -%}
    {%- set merged = {} -%}
    {%- do merged.update(defaults) -%}
    {%- for key, days in given.items() -%}
        {%- set sev = key | string | trim | lower -%}
        {%- if sev not in defaults -%}
            {{ exceptions.raise_compiler_error("var security_sla_days: unknown severity '" ~ key ~ "'; use critical, high, medium, low") }}
        {%- endif -%}
        {%- if not (days | string | trim).isdigit() or (days | int) < 1 -%}
            {{ exceptions.raise_compiler_error("var security_sla_days." ~ sev ~ " must be a positive number of days, got '" ~ days ~ "'") }}
        {%- endif -%}
        {%- do merged.update({sev: days | int}) -%}
    {%- endfor -%}
    values
    {%- for sev in ['critical', 'high', 'medium', 'low'] %}
        ('{{ sev }}', {{ merged[sev] }}){{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#- True when the relation exists in the warehouse (raw and meta tables are absent in a bare dbt build). -#}
{% macro security_relation_exists(relation) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(adapter.get_relation(relation.database, relation.schema, relation.identifier) is not none) }}
{%- endmacro %}


{#- `select <columns> from relation`, or no rows with those columns when the raw table does not exist yet. -#}
{% macro security_source_or_empty(relation, columns) -%}
    {%- if security_relation_exists(relation) %}
    select {{ columns | map(attribute=0) | join(', ') }} from {{ relation }}
    {%- else %}
    select
    {%- for name, type in columns %}
        cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
    where false
    {%- endif %}
{%- endmacro %}


{#- The rows of `relation_sql` (with repo and team columns) once per scope: repo, team and org, prefixed with
    scope_type and scope_id (the posture mart's roll-ups). -#}
{% macro security_scoped(relation_sql) -%}
    {{ rows_per_scope(relation_sql, [('repo', 'repo'), ('team', 'team'), ('org', "'org'")]) }}
{%- endmacro %}


{#- Var `security_patch_clock` (config security.patch_clock) as an SQL expression: when a Dependabot alert's patch
    deadline starts, from `created` (the alert's created_at) and `published` (security_advisory.published_at, clamped
    to created_at when later: an alert cannot predate its advisory). NULL under advisory_published when the advisory
    has no published_at: the deadline is unknown (DuckDB's least ignores a NULL, hence the case). -#}
{% macro security_patch_clock_start(created, published) -%}
    {%- set clock = var('security_patch_clock', 'alert_created') | string | trim -%}
    {%- if clock == 'alert_created' -%}
        {{ created }}
    {%- elif clock == 'advisory_published' -%}
        case when {{ published }} is not null then least({{ published }}, {{ created }}) end
    {%- else -%}
        {{ exceptions.raise_compiler_error("var security_patch_clock must be alert_created or advisory_published, got '" ~ clock ~ "'") }}
    {%- endif -%}
{%- endmacro %}


{#- security_scoped, each row once more with severity 'all' (the patch mart's all-severity figures pool the items).
    `columns`: the names of relation_sql's columns in order, `severity` among them. -#}
{% macro security_scoped_all_severities(relation_sql, columns) -%}
    {%- set all_columns = [] -%}
    {%- for column in columns -%}
        {%- do all_columns.append("'all' as severity" if column == 'severity' else column) -%}
    {%- endfor -%}
    {{ security_scoped("select " ~ columns | join(', ') ~ " from (" ~ relation_sql ~ ") as by_severity union all select "
                       ~ all_columns | join(', ') ~ " from (" ~ relation_sql ~ ") as all_severities") }}
{%- endmacro %}


{#- The security KPI area's windowed figures, dense: every snapshot date x window (the CTE `windows`) x scope (the
    CTE `scopes`, or the one named by `scopes`), with `stats` [(name, aggregate over `facts`)] of the rows of the CTE `facts` (scope_type, scope_id,
    `day_column`) whose day lies in the window; aggregates over no rows give NULL / 0. -#}
{% macro security_window_stats(facts, day_column, stats, scopes='scopes') -%}
    select
        windows.snapshot_date,
        windows."window",
        scopes.scope_type,
        scopes.scope_id,
        {%- for name, expression in stats %}
        {{ expression }} as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from windows
    cross join {{ scopes }} as scopes
    left join {{ facts }}
        on {{ facts }}.scope_type = scopes.scope_type
        and {{ facts }}.scope_id = scopes.scope_id
        and {{ facts }}.{{ day_column }} between windows.window_start_day and windows.snapshot_date
    group by windows.snapshot_date, windows."window", scopes.scope_type, scopes.scope_id
{%- endmacro %}


{#- Which day an alert's creation or closing exactly at the instant a day is judged at (its end: the next local
    midnight, or as_of on the run's day) counts for (var security_day_end, config security.day_end):
    `next_day` (the default): an instant exactly at a day's end belongs to the next day, as for every other
        end-of-day state (open incidents, Jira WIP) and the day buckets of `opened` and the closings: an alert
        created at midnight is open from the day it is counted as opened, one fixed at midnight is open on the day
        before the one its fix is counted on, so open(d) = open(d - 1) + opened(d) - closed(d);
    `this_day`: the KPI contract's wording (kpi-definitions.md "Security posture"): open on d when
        `created_at <= end of d` and not closed by the end of d. -#}
{% macro security_day_end() -%}
    {%- set value = var('security_day_end', 'next_day') | string | trim -%}
    {%- if value not in ('next_day', 'this_day') -%}
        {{ exceptions.raise_compiler_error("var security_day_end must be next_day or this_day, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}


{#- SQL: `moment` (an alert's creation or closing) has happened by the instant `at` it is judged at. -#}
{% macro security_happened_by(moment, at) -%}
    {{ moment }} {{ '<=' if security_day_end() == 'this_day' else '<' }} {{ at }}
{%- endmacro %}
