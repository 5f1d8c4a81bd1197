{#- End-to-end lead time (docs/metrics.md "End-to-end lead time"): the Jira key pattern and the run parameters of
    the `lead_time_e2e` config section (dbt vars passed by the pipeline), with the KPI contract's defaults. -#}

{#- A Jira issue key after the start or a character that is no letter or digit, taken from group 2. RE2 (DuckDB's
    engine) has no look-behind, so the boundary is a group of its own. -#}
{% macro jira_key_pattern() -%}
'(^|[^A-Za-z0-9])([A-Z][A-Z0-9_]+-[0-9]+)'
{%- endmacro %}


{#- Every Jira key in a text (VARCHAR[]; [] for NULL). Keys next to each other ("[OPS-1][OPS-2]") are all found: a
    match ends with the key's last digit, so the next key's boundary character is still there. -#}
{% macro jira_keys_in(text_expr) -%}
{{ regex_extract_all(text_expr, jira_key_pattern(), 2) }}
{%- endmacro %}


{#- The project part of a key (OPS-12 -> OPS). -#}
{% macro jira_key_project(key_expr) -%}
{{ regex_extract(key_expr, "'^(.*)-[0-9]+$'", 1) }}
{%- endmacro %}


{#- The configured Jira projects (var `jira_projects`, the pipeline's sources.jira.projects) as a VARCHAR[] literal, or
    none when the var is null: then the projects the projects stream read are the configured ones. -#}
{% macro configured_jira_projects() -%}
    {%- set values = var('jira_projects', none) -%}
    {%- if values is none -%}
        {{ return(none) }}
    {%- elif values is string -%}
        {%- set values = values.split(',') -%}
    {%- endif -%}
    {{ return(text_array_literal(values | map('string') | map('trim') | reject('equalto', '') | list)) }}
{%- endmacro %}


{#- Resolutions whose issues are no delivery (default [Won't Do, Duplicate, Cannot Reproduce]), lower-cased. -#}
{% macro lead_time_e2e_excluded_resolutions() -%}
    {{ lowercase_list_literal('lead_time_e2e_excluded_resolutions', ["Won't Do", 'Duplicate', 'Cannot Reproduce']) }}
{%- endmacro %}


{#- Issue types that are no delivery of their own (default [Epic]), lower-cased. -#}
{% macro lead_time_e2e_excluded_issue_types() -%}
    {{ lowercase_list_literal('lead_time_e2e_excluded_issue_types', ['Epic']) }}
{%- endmacro %}


{#- Seconds after an issue's last move to done in which a merged pull request still belongs to it (default 7 d). -#}
{% macro lead_time_e2e_late_link_grace_s() -%}
    {{ seconds_var('lead_time_e2e_late_link_grace_s', 604800) }}
{%- endmacro %}


{#- Projects that deliver by release (fixVersions), as an upper-cased VARCHAR[] literal (keys are upper case). -#}
{% macro lead_time_e2e_release_projects() -%}
    {{ text_array_literal(lowercase_list_values('lead_time_e2e_release_projects', []) | map('upper') | list) }}
{%- endmacro %}
