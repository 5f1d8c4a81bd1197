{#-
    `+schema: staging` lands in schema `staging` exactly (dbt's default would build `main_staging`).
    Models without a custom schema go to the target schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
