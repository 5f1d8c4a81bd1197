{#-
    One row per calendar date from start_date to end_date inclusive (column `day DATE`).
    Both arguments are SQL expressions; they may reference columns of `from_clause` (e.g. a one-row bounds CTE).
-#}
{% macro day_spine(start_date, end_date, from_clause=none) -%}
    select cast({{ date_series('cast(' ~ start_date ~ ' as date)', 'cast(' ~ end_date ~ ' as date)') }} as date) as day
    {%- if from_clause is not none %}
    from {{ from_clause }}
    {%- endif %}
{%- endmacro %}
