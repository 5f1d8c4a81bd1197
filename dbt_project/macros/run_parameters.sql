{#-
    The run's parameters (dbt vars) rendered as SQL expressions. Every model reads them through
    these macros, so validation and defaults live in one place.
-#}

{% macro reporting_tz() -%}
    {%- set tz = var('reporting_timezone', 'UTC') | string | trim -%}
    {%- if not modules.re.match('^[A-Za-z0-9_+./-]+$', tz) -%}
        {{ exceptions.raise_compiler_error("var reporting_timezone must be an IANA time zone name, got '" ~ tz ~ "'") }}
    {%- endif -%}
    '{{ tz }}'
{%- endmacro %}


{% macro run_date() -%}
    {%- set value = var('run_date', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        cast(timezone({{ reporting_tz() }}, now()) as date)
    {%- else -%}
        {%- set value = value | string | trim -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
            {{ exceptions.raise_compiler_error("var run_date must be 'YYYY-MM-DD', got '" ~ value ~ "'") }}
        {%- endif -%}
        date '{{ value }}'
    {%- endif -%}
{%- endmacro %}


{% macro as_of() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        least(now(), {{ local_midnight_utc(run_date() ~ ' + 1') }})
    {%- else -%}
        {%- set value = value | string | trim -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+(Z|[+-][0-9:]+)?$', value) -%}
            {{ exceptions.raise_compiler_error("var as_of must be an ISO-8601 UTC timestamp, got '" ~ value ~ "'") }}
        {%- endif -%}
        cast('{{ value }}' as timestamptz)
    {%- endif -%}
{%- endmacro %}


{% macro default_slo_target_pct() -%}
    {%- set value = var('default_slo_target_pct', 99.9) | string | trim -%}
    {%- if not modules.re.match('^[0-9]+([.][0-9]+)?$', value) -%}
        {{ exceptions.raise_compiler_error("var default_slo_target_pct must be a number, got '" ~ value ~ "'") }}
    {%- endif -%}
    cast({{ value }} as double)
{%- endmacro %}


{#- A list var ("a,b" strings are accepted too) as a Python list of trimmed, lower-cased strings. -#}
{% macro lowercase_list_values(var_name, default) -%}
    {%- set values = var(var_name, default) -%}
    {%- if values is none -%}
        {%- set values = [] -%}
    {%- elif values is string -%}
        {%- set values = values.split(',') -%}
    {%- endif -%}
    {{ return(values | map('string') | map('trim') | map('lower') | reject('equalto', '') | list) }}
{%- endmacro %}


{#- A list var ("a,b" strings are accepted too) as a lower-cased DuckDB VARCHAR[] literal. -#}
{% macro lowercase_list_literal(var_name, default) -%}
    [
    {%- for value in lowercase_list_values(var_name, default) -%}
        '{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- endfor -%}
    ]::varchar[]
{%- endmacro %}


{% macro downtime_urgencies() -%}
    {{ lowercase_list_literal('downtime_urgencies', ['high']) }}
{%- endmacro %}


{% macro downtime_priorities() -%}
    {{ lowercase_list_literal('downtime_priorities', []) }}
{%- endmacro %}


{#- Jira issue type names (case-insensitive) that count as incidents; default [] = Jira incidents off. -#}
{% macro jira_incident_issue_types() -%}
    {{ lowercase_list_literal('jira_incident_issue_types', []) }}
{%- endmacro %}


{% macro jira_incidents_enabled() -%}
    {{ return(lowercase_list_values('jira_incident_issue_types', []) | length > 0) }}
{%- endmacro %}


{#- SQL predicate: the Jira issue type column names an incident type (always false when the var is empty). -#}
{% macro is_jira_incident_type(issue_type_expr) -%}
    list_contains({{ jira_incident_issue_types() }}, lower({{ issue_type_expr }}))
{%- endmacro %}


{#- SQL predicate: an incident with this urgency / priority name counts as downtime (case-insensitive). -#}
{% macro is_downtime_incident(urgency_expr, priority_expr) -%}
    coalesce(
        list_contains({{ downtime_urgencies() }}, lower({{ urgency_expr }}))
        or list_contains({{ downtime_priorities() }}, lower({{ priority_expr }})),
        false
    )
{%- endmacro %}
