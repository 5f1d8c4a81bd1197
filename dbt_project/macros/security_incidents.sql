{#-
    The security incident rules (config `security_incidents`, passed as the security_incident_* vars; definitions:
    docs/metrics.md "Security incidents"). Every rule empty turns the area off: its models have no rows.
-#}

{#- The RE2 title pattern, none when unset or blank. -#}
{% macro security_incident_title_pattern() -%}
    {%- set pattern = var('security_incident_title_pattern', none) -%}
    {{ return(none if pattern is none or (pattern | string | trim) == '' else (pattern | string)) }}
{%- endmacro %}


{% macro security_incidents_enabled() -%}
    {{ return((lowercase_list_values('security_incident_service_ids', [])
               + lowercase_list_values('security_incident_types', [])
               + lowercase_list_values('security_incident_priorities', [])
               + lowercase_list_values('security_incident_jira_issue_types', [])) | length > 0
              or security_incident_title_pattern() is not none) }}
{%- endmacro %}


{#-
    SQL: the first rule that matches a PagerDuty incident, in the contract's order service, incident type, priority,
    title ('service', 'incident_type', 'priority', 'title'); NULL when none does. Ids and names are compared
    case-insensitively (PagerDuty ids are upper case only, so an id still matches only itself); the title pattern is
    RE2 (DuckDB's regexp), case-insensitive, on the raw title.
-#}
{% macro security_incident_match(service_id, incident_type, priority, title) -%}
    {%- set pattern = security_incident_title_pattern() -%}
    case
        when {{ array_has(lowercase_list_literal('security_incident_service_ids', []), "lower(" ~ service_id ~ ")") }}
            then 'service'
        when {{ array_has(lowercase_list_literal('security_incident_types', []), "lower(" ~ incident_type ~ ")") }}
            then 'incident_type'
        when {{ array_has(lowercase_list_literal('security_incident_priorities', []), "lower(" ~ priority ~ ")") }}
            then 'priority'
        {%- if pattern is not none %}
        when {{ regex_matches(title, "'" ~ pattern | replace("'", "''") ~ "'", 'i') }} then 'title'
        {%- endif %}
    end
{%- endmacro %}


{#- SQL predicate: a Jira issue type that makes the issue a security incident (case-insensitive). -#}
{% macro is_security_jira_issue_type(issue_type) -%}
    coalesce({{ array_has(lowercase_list_literal('security_incident_jira_issue_types', []), "lower(" ~ issue_type ~ ")") }}, false)
{%- endmacro %}
