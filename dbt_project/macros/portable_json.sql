{#-
    JSON access that builds on DuckDB and on PostgreSQL (warehouse.type: postgres). The raw tables keep each API
    record as JSON (DuckDB) / jsonb (Postgres: opskpi/postgres_warehouse.py). A path is a dotted string of keys
    ('fields.status.name'). DuckDB keeps its own JSONPath form (`->> '$.a.b'`), so its SQL, and its results, are
    unchanged; Postgres gets `#>> '{a,b}'`.
-#}

{#- The value at `path` as text (null when missing or JSON null), e.g. json_text('record', 'fields.status.name'). -#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text', 'opskpi')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    ({{ column }} #>> '{{ "{" ~ path.split(".") | join(",") ~ "}" }}')
{%- endmacro %}

{% macro duckdb__json_text(column, path) -%}
    {{ column }}->>'$.{{ path }}'
{%- endmacro %}

{#- The JSON value at `path` (an object, an array or a scalar), e.g. json_value('record', 'fields.fixVersions'). -#}
{% macro json_value(column, path) -%}
    {{ return(adapter.dispatch('json_value', 'opskpi')(column, path)) }}
{%- endmacro %}

{% macro default__json_value(column, path) -%}
    ({{ column }} #> '{{ "{" ~ path.split(".") | join(",") ~ "}" }}')
{%- endmacro %}

{% macro duckdb__json_value(column, path) -%}
    {{ column }}->'$.{{ path }}'
{%- endmacro %}

{#- The text values of `key` of every element of the array at `path` (path '' = the value itself), as a text array
    (DuckDB: varchar[]), as DuckDB's `json_extract_string(c, '$.path[*].key')` gives them: elements without the key
    are left out, a JSON null is a null; not an array (or missing) = an empty array. -#}
{% macro json_array_texts(column, path, key=none) -%}
    {{ return(adapter.dispatch('json_array_texts', 'opskpi')(column, path, key)) }}
{%- endmacro %}

{% macro default__json_array_texts(column, path, key) -%}
    {%- set value = column if not path else json_value(column, path) -%}
    array(
        select {{ "element #>> '{}'" if key is none else "element ->> '" ~ key ~ "'" }}
        from jsonb_array_elements(case when jsonb_typeof({{ value }}) = 'array' then {{ value }} else '[]'::jsonb end)
            with ordinality as elements(element, position)
        {%- if key is not none %}
        where jsonb_typeof(element) = 'object' and element ? '{{ key }}'
        {%- endif %}
        order by position
    )
{%- endmacro %}

{% macro duckdb__json_array_texts(column, path, key) -%}
    json_extract_string({{ column }}, '${{ "." ~ path if path else "" }}[*]{{ "" if key is none else "." ~ key }}')
{%- endmacro %}

{#- The JSON type name of the value at `path` ('' = the value itself), in DuckDB's spelling: 'OBJECT', 'ARRAY', 'NULL', 'VARCHAR', … -#}
{% macro json_type_at(column, path) -%}
    {{ return(adapter.dispatch('json_type_at', 'opskpi')(column, path)) }}
{%- endmacro %}

{% macro default__json_type_at(column, path) -%}
    upper(jsonb_typeof({{ json_value(column, path) if path else column }}))
{%- endmacro %}

{% macro duckdb__json_type_at(column, path) -%}
    json_type({{ column }}{{ ", '$." ~ path ~ "'" if path }})
{%- endmacro %}

{#- A JSON array's elements as rows (key, value) for a FROM clause, as DuckDB's `json_each` gives them: key is the
    0-based position as text. Use: `from t, {{ json_elements('t.items') }} as item`, then item.key, item.value. -#}
{% macro json_elements(column) -%}
    {{ return(adapter.dispatch('json_elements', 'opskpi')(column)) }}
{%- endmacro %}

{% macro default__json_elements(column) -%}
    lateral (
        select element as value, cast(position - 1 as text) as key
        from jsonb_array_elements(case when jsonb_typeof({{ column }}) = 'array' then {{ column }} else '[]'::jsonb end)
            with ordinality as elements(element, position)
    )
{%- endmacro %}

{% macro duckdb__json_elements(column) -%}
    json_each({{ column }})
{%- endmacro %}

{#- One parse of a large JSON record into the fields a model reads (DuckDB from_json into a STRUCT of `spec`, a JSON
    string of field -> type: parsing once is 5x faster than a ->> per field there). Postgres keeps the jsonb, which
    it parsed on load. Read the fields with json_struct_field. -#}
{% macro json_struct(column, spec) -%}
    {{ return(adapter.dispatch('json_struct', 'opskpi')(column, spec)) }}
{%- endmacro %}

{% macro default__json_struct(column, spec) -%}
    {{ column }}
{%- endmacro %}

{% macro duckdb__json_struct(column, spec) -%}
    from_json({{ column }}, '{{ spec }}')
{%- endmacro %}

{#- A field of a json_struct (`path` dotted), as `type` (text unless said: bigint, boolean, json). -#}
{% macro json_struct_field(struct, path, type='text') -%}
    {{ return(adapter.dispatch('json_struct_field', 'opskpi')(struct, path, type)) }}
{%- endmacro %}

{% macro default__json_struct_field(struct, path, type) -%}
    {%- if type == 'json' -%}
        {{ json_value(struct, path) }}
    {%- elif type == 'text' -%}
        {{ json_text(struct, path) }}
    {%- else -%}
        cast({{ json_text(struct, path) }} as {{ type }})
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__json_struct_field(struct, path, type) -%}
    {{ struct }}.{{ path }}
{%- endmacro %}

{#- The JSON column type of the raw tables (DuckDB JSON, Postgres jsonb: opskpi/postgres_warehouse.py). -#}
{% macro json_type() -%}
    {{ return(adapter.dispatch('json_type', 'opskpi')()) }}
{%- endmacro %}

{% macro default__json_type() -%}
    jsonb
{%- endmacro %}

{% macro duckdb__json_type() -%}
    json
{%- endmacro %}

{#- Set-returning, in a select list: one row per element of a JSON array. -#}
{% macro json_array_rows(column) -%}
    {{ return(adapter.dispatch('json_array_rows', 'opskpi')(column)) }}
{%- endmacro %}

{% macro default__json_array_rows(column) -%}
    jsonb_array_elements(case when jsonb_typeof({{ column }}) = 'array' then {{ column }} else '[]'::jsonb end)
{%- endmacro %}

{% macro duckdb__json_array_rows(column) -%}
    unnest(cast({{ column }} as json[]))
{%- endmacro %}

{#- The number of elements of a JSON array (0 for another JSON value). -#}
{% macro json_length(column) -%}
    {{ return(adapter.dispatch('json_length', 'opskpi')(column)) }}
{%- endmacro %}

{% macro default__json_length(column) -%}
    (case when jsonb_typeof({{ column }}) = 'array' then jsonb_array_length({{ column }}) else 0 end)
{%- endmacro %}

{% macro duckdb__json_length(column) -%}
    json_array_length({{ column }})
{%- endmacro %}
