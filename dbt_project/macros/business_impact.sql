{#- The ISO 4217 code every service's price is in (var business_impact_currency), as a SQL literal. -#}
{% macro business_impact_currency() -%}
    {%- set code = var('business_impact_currency', 'USD') | string | trim -%}
    {%- if not modules.re.match('^[A-Z]{3}$', code) -%}
        {{ exceptions.raise_compiler_error("var business_impact_currency must be an ISO 4217 code such as EUR, got '"
                                           ~ code ~ "'") }}
    {%- endif -%}
    '{{ code }}'
{%- endmacro %}
