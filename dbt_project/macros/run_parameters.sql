{#-
    The run's parameters rendered as SQL expressions. Every model reads them through these macros, so
    validation and defaults live in one place.

    The settings from the config (time zone, lists, SLO...) are dbt vars. The three values that change on every
    run (run_date, as_of, run_id) are not: dbt parses the whole project again whenever a --vars value differs
    from the previous invocation's, which cost every nightly build a full parse. The pipeline passes them as the
    environment variables OPSKPI_RUN_DATE, OPSKPI_AS_OF and OPSKPI_RUN_ID instead, read only while executing
    (`execute`): the parser never sees them, so target/partial_parse.msgpack stays valid from one night to the next.
    A var of the same name, when given (a manual `dbt build --vars`, the dbt tests), still wins.

    A node that reads one of them is rebuilt on every run, whatever was loaded: it must carry the tag `every_run`
    (a test: it or one of its parents), which the pipeline's slim builds select with its descendants
    (opskpi/dbt_selection.py). run_parameter() checks the tag while the node compiles, so a new reader that forgot
    it fails loudly instead of going stale on a night it is not selected.
-#}

{#- The run's value of `name` (run_date, as_of, run_id) as a trimmed string, none when unset. -#}
{% macro run_parameter(name) -%}
    {%- set value = var(name, none) -%}
    {%- if (value is none or (value | string | trim) == '') and execute -%}
        {%- set value = env_var('OPSKPI_' ~ (name | upper), '') -%}
    {%- endif -%}
    {%- if execute -%}
        {%- do require_every_run_tag(name) -%}
    {%- endif -%}
    {{ return(none if value is none or (value | string | trim) == '' else (value | string | trim)) }}
{%- endmacro %}


{#- Compile error unless the node being compiled is tagged `every_run` (a test: it or a parent). -#}
{% macro require_every_run_tag(name) -%}
    {%- if model is defined and model is not none and model.resource_type in ('model', 'test', 'snapshot')
          and 'every_run' not in (model.tags or []) -%}
        {%- set ns = namespace(parent_tagged=false) -%}
        {%- if model.resource_type == 'test' -%}
            {%- for parent in model.depends_on.nodes
                  if parent in graph.nodes and 'every_run' in (graph.nodes[parent].tags or []) -%}
                {%- set ns.parent_tagged = true -%}
            {%- endfor -%}
        {%- endif -%}
        {%- if not ns.parent_tagged -%}
            {{ exceptions.raise_compiler_error(model.resource_type ~ " " ~ model.name ~ " reads the run's " ~ name
                ~ ": tag it every_run (config(tags=['every_run'])) so that every build selects it") }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro reporting_tz() -%}
    {%- set tz = var('reporting_timezone', 'UTC') | string | trim -%}
    {%- if not modules.re.match('^[A-Za-z0-9_+./-]+$', tz) -%}
        {{ exceptions.raise_compiler_error("var reporting_timezone must be an IANA time zone name, got '" ~ tz ~ "'") }}
    {%- endif -%}
    '{{ tz }}'
{%- endmacro %}


{% macro run_date() -%}
    {%- set value = run_parameter('run_date') -%}
    {%- if value is none -%}
        cast(timezone({{ reporting_tz() }}, now()) as date)
    {%- else -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
            {{ exceptions.raise_compiler_error("var run_date must be 'YYYY-MM-DD', got '" ~ value ~ "'") }}
        {%- endif -%}
        date '{{ value }}'
    {%- endif -%}
{%- endmacro %}


{% macro as_of() -%}
    {%- set value = run_parameter('as_of') -%}
    {%- if value is none -%}
        least(now(), {{ local_midnight_utc(run_date() ~ ' + 1') }})
    {%- else -%}
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
    cast({{ value }} as double precision)
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


{#- A list var ("a,b" strings are accepted too) as a lower-cased text array literal (DuckDB VARCHAR[], Postgres text[]). -#}
{% macro lowercase_list_literal(var_name, default) -%}
    {{ text_array_literal(lowercase_list_values(var_name, default)) }}
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
    {{ array_has(jira_incident_issue_types(), "lower(" ~ issue_type_expr ~ ")") }}
{%- endmacro %}


{#- SQL predicate: an incident with this urgency / priority name counts as downtime (case-insensitive). -#}
{% macro is_downtime_incident(urgency_expr, priority_expr) -%}
    coalesce(
        {{ array_has(downtime_urgencies(), "lower(" ~ urgency_expr ~ ")") }}
        or {{ array_has(downtime_priorities(), "lower(" ~ priority_expr ~ ")") }},
        false
    )
{%- endmacro %}
