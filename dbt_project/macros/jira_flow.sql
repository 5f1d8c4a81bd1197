{#- Jira flow helpers (docs/metrics.md "Jira flow"). -#}

{#- Var `jira_bug_issue_types` (default [Bug]) as a lower-cased VARCHAR[] literal. -#}
{% macro jira_bug_issue_types() -%}
    {{ lowercase_list_literal('jira_bug_issue_types', ['Bug']) }}
{%- endmacro %}


{#- SQL predicate (never NULL): the issue type name is one of var `jira_bug_issue_types` (case-insensitive). -#}
{% macro is_jira_bug_type(issue_type_expr) -%}
    coalesce(list_contains({{ jira_bug_issue_types() }}, lower({{ issue_type_expr }})), false)
{%- endmacro %}
