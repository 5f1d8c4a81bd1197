{#-
    A model's row rules in one test: required columns (`not_null`), keys that occur once (`unique`: lists of
    columns), allowed values (`accepted_values`: column -> values) and bounds (`ranges`: column or expression ->
    min_value / max_value, inclusive unless inclusive_min / inclusive_max is false). Fails with one row per broken
    rule: the rule, the column(s), how many rows (for `unique`: how many key values) break it, and what was allowed;
    the pipeline's failure sampler (opskpi/dbt_failures.py) puts those rows in the run's error.

    Why one test per model instead of dbt's `not_null`, `unique`, `accepted_values` and a range test per column:
    every test is a node, and dbt's per-node overhead (render, compile, one query, a result; ~25 ms, holding the
    GIL) was a third of a small build and most of a quiet night's: 208 test nodes, 186 of them such rules.

    Semantics are dbt's: NULLs are accepted by `accepted_values` and `ranges`, and a one-column key ignores NULLs
    (dbt's `unique`); a key of several columns counts NULLs like any value.
-#}
{% test row_rules(model, not_null=[], unique=[], accepted_values={}, ranges={}) %}

{%- if not (not_null or unique or accepted_values or ranges) -%}
    {{ exceptions.raise_compiler_error("row_rules on " ~ model ~ " names no rule") }}
{%- endif -%}
{%- set checks = [] -%}

{%- if not_null %}
{%- set counts -%}
    select
        {%- for column in not_null %}
        count(*) filter (where {{ adapter.quote(column) }} is null) as {{ adapter.quote('nulls_' ~ loop.index) }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}
{%- endset -%}
{%- for column in not_null -%}
    {%- do checks.append("select 'not_null' as rule, '" ~ column ~ "' as column_name, "
        ~ adapter.quote('nulls_' ~ loop.index) ~ " as bad_rows, 'a value' as allowed from null_counts") -%}
{%- endfor -%}
{%- endif -%}

{%- for key in unique -%}
    {%- set columns = [key] if key is string else key -%}
    {%- set quoted = [] -%}
    {%- for column in columns -%}{%- do quoted.append(adapter.quote(column)) -%}{%- endfor -%}
    {%- do checks.append("select 'unique' as rule, '" ~ columns | join(', ') ~ "' as column_name, count(*) as bad_rows, "
        ~ "'each value once' as allowed from (select 1 from " ~ model
        ~ (" where " ~ quoted[0] ~ " is not null" if columns | length == 1 else "")
        ~ " group by " ~ quoted | join(', ') ~ " having count(*) > 1) as duplicates") -%}
{%- endfor -%}

{%- for column, values in accepted_values.items() -%}
    {%- set listed = [] -%}
    {%- for value in values -%}
        {%- do listed.append("'" ~ (value | string | replace("'", "''")) ~ "'" if value is string else (value | string)) -%}
    {%- endfor -%}
    {%- do checks.append("select 'accepted_values' as rule, '" ~ column ~ "' as column_name, count(*) as bad_rows, '"
        ~ (values | join(', ') | replace("'", "''")) ~ "' as allowed from " ~ model ~ " where " ~ adapter.quote(column)
        ~ " is not null and " ~ adapter.quote(column) ~ " not in (" ~ listed | join(', ') ~ ")") -%}
{%- endfor -%}

{%- for column, bounds in ranges.items() -%}
    {%- set tests, allowed = [], [] -%}
    {%- if bounds.get('min_value') is not none -%}
        {%- set inclusive = bounds.get('inclusive_min', true) -%}
        {%- do tests.append(column ~ (' < ' if inclusive else ' <= ') ~ bounds['min_value']) -%}
        {%- do allowed.append(('>= ' if inclusive else '> ') ~ bounds['min_value']) -%}
    {%- endif -%}
    {%- if bounds.get('max_value') is not none -%}
        {%- set inclusive = bounds.get('inclusive_max', true) -%}
        {%- do tests.append(column ~ (' > ' if inclusive else ' >= ') ~ bounds['max_value']) -%}
        {%- do allowed.append(('<= ' if inclusive else '< ') ~ bounds['max_value']) -%}
    {%- endif -%}
    {%- do checks.append("select 'range' as rule, '" ~ (column | replace("'", "''")) ~ "' as column_name, count(*) as bad_rows, '"
        ~ (allowed | join(' and ')) ~ "' as allowed from " ~ model
        ~ " where " ~ column ~ " is not null and (" ~ tests | join(' or ') ~ ")") -%}
{%- endfor %}

{%- if not_null %}
with null_counts as (
    {{ counts }}
)
{%- endif %}
select * from (
{%- for check in checks %}
    {{ check }}
    {{ 'union all' if not loop.last }}
{%- endfor %}
) as broken
where bad_rows > 0

{% endtest %}
