{#-
    The SQL the models need that DuckDB and PostgreSQL spell differently (warehouse.type: postgres). Each macro's
    DuckDB branch is the SQL the models had before, so the DuckDB build is unchanged; the Postgres branch gives the
    same values (types included: DuckDB's DOUBLE is Postgres's double precision, VARCHAR[] is text[]).
    dbt's own cross-database macros (dbt.datediff, dbt.any_value, ...) are used where they exist.
-#}

{#- Integer microseconds since the epoch of an instant (DuckDB epoch_us). -#}
{% macro epoch_us(ts) -%}
    {{ return(adapter.dispatch('epoch_us', 'opskpi')(ts)) }}
{%- endmacro %}

{% macro default__epoch_us(ts) -%}
    cast(round(extract(epoch from {{ ts }}) * 1000000) as bigint)
{%- endmacro %}

{% macro duckdb__epoch_us(ts) -%}
    epoch_us({{ ts }})
{%- endmacro %}

{#- An interval of `seconds` (a number; DuckDB to_seconds). -#}
{% macro seconds_interval(seconds) -%}
    {{ return(adapter.dispatch('seconds_interval', 'opskpi')(seconds)) }}
{%- endmacro %}

{% macro default__seconds_interval(seconds) -%}
    make_interval(secs => {{ seconds }})
{%- endmacro %}

{% macro duckdb__seconds_interval(seconds) -%}
    to_seconds({{ seconds }})
{%- endmacro %}

{#- An interval of `us` microseconds (a bigint; DuckDB to_microseconds). -#}
{% macro microseconds_interval(us) -%}
    {{ return(adapter.dispatch('microseconds_interval', 'opskpi')(us)) }}
{%- endmacro %}

{% macro default__microseconds_interval(us) -%}
    ({{ us }}) * interval '1 microsecond'
{%- endmacro %}

{% macro duckdb__microseconds_interval(us) -%}
    to_microseconds({{ us }})
{%- endmacro %}

{#- The continuous (interpolated) q-quantile of an ordered-set of `column`, an aggregate (DuckDB quantile_cont). -#}
{% macro quantile_cont(column, q) -%}
    {{ return(adapter.dispatch('quantile_cont', 'opskpi')(column, q)) }}
{%- endmacro %}

{% macro default__quantile_cont(column, q) -%}
    percentile_cont({{ q }}) within group (order by {{ column }})
{%- endmacro %}

{% macro duckdb__quantile_cont(column, q) -%}
    quantile_cont({{ column }}, {{ q }})
{%- endmacro %}

{#- A date as text 'YYYY-MM-DD' (or another strftime format of the few below) (DuckDB strftime). -#}
{% macro format_date(date_expr, format='%Y-%m-%d') -%}
    {{ return(adapter.dispatch('format_date', 'opskpi')(date_expr, format)) }}
{%- endmacro %}

{% macro default__format_date(date_expr, format) -%}
    {%- set pg_formats = {'%Y-%m-%d': 'YYYY-MM-DD', '%Y%m%d': 'YYYYMMDD'} -%}
    {%- if format not in pg_formats -%}
        {{ exceptions.raise_compiler_error("format_date: no Postgres format for " ~ format) }}
    {%- endif -%}
    to_char({{ date_expr }}, '{{ pg_formats[format] }}')
{%- endmacro %}

{% macro duckdb__format_date(date_expr, format) -%}
    strftime({{ date_expr }}, '{{ format }}')
{%- endmacro %}

{#- `expr` cast to `type`, or null where the text is no such value (DuckDB try_cast). Postgres has no try_cast: the
    types the models try are guarded by a pattern (bigint, boolean, date, timestamptz). -#}
{% macro try_cast(expr, type) -%}
    {{ return(adapter.dispatch('try_cast', 'opskpi')(expr, type)) }}
{%- endmacro %}

{% macro default__try_cast(expr, type) -%}
    {%- set patterns = {
        'bigint': "^\\s*[-+]?[0-9]{1,18}\\s*$",
        'boolean': "^\\s*(true|false|t|f|yes|no|y|n|on|off|1|0)\\s*$",
        'date': "^\\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\\s*$",
        'timestamptz': "^\\s*[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?\\s*(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?\\s*$",
    } -%}
    {%- if type | lower not in patterns -%}
        {{ exceptions.raise_compiler_error("try_cast: no Postgres guard for type " ~ type) }}
    {%- endif -%}
    (case when cast({{ expr }} as text) ~* '{{ patterns[type | lower] }}' then cast(cast({{ expr }} as text) as {{ type }}) end)
{%- endmacro %}

{% macro duckdb__try_cast(expr, type) -%}
    try_cast({{ expr }} as {{ type }})
{%- endmacro %}

{#- A text array literal of `values` (Python strings), typed (DuckDB VARCHAR[], Postgres text[]). -#}
{% macro text_array_literal(values) -%}
    {{ return(adapter.dispatch('text_array_literal', 'opskpi')(values)) }}
{%- endmacro %}

{% macro default__text_array_literal(values) -%}
    cast(array[
    {%- for value in values -%}
        '{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- endfor -%}
    ] as text[])
{%- endmacro %}

{% macro duckdb__text_array_literal(values) -%}
    [
    {%- for value in values -%}
        '{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- endfor -%}
    ]::varchar[]
{%- endmacro %}

{#- Whether the array `array_expr` holds `value` (null when value is null; DuckDB list_contains). -#}
{% macro array_has(array_expr, value) -%}
    {{ return(adapter.dispatch('array_has', 'opskpi')(array_expr, value)) }}
{%- endmacro %}

{% macro default__array_has(array_expr, value) -%}
    ({{ value }} = any({{ array_expr }}))
{%- endmacro %}

{% macro duckdb__array_has(array_expr, value) -%}
    list_contains({{ array_expr }}, {{ value }})
{%- endmacro %}

{#- Whether `text` matches the regular expression `pattern` (a SQL string literal); flags 'i' = case-insensitive
    (DuckDB regexp_matches; the patterns used are in the common subset of RE2 and POSIX ERE). -#}
{% macro regex_matches(text, pattern, flags='') -%}
    {{ return(adapter.dispatch('regex_matches', 'opskpi')(text, pattern, flags)) }}
{%- endmacro %}

{% macro default__regex_matches(text, pattern, flags) -%}
    ({{ text }} {{ '~*' if 'i' in flags else '~' }} {{ pattern }})
{%- endmacro %}

{% macro duckdb__regex_matches(text, pattern, flags) -%}
    regexp_matches({{ text }}, {{ pattern }}{{ ", '" ~ flags ~ "'" if flags else "" }})
{%- endmacro %}

{#- The value of `value` on the row with the largest (arg_max) / smallest (arg_min) `key`, an aggregate, over the rows
    that pass `where` (SQL, optional). Like DuckDB's arg_max, rows whose value or key is null are skipped; with
    nulls=true (DuckDB arg_max_null) only rows whose key is null are. -#}
{% macro arg_max(value, key, where=none, nulls=false) -%}
    {{ return(adapter.dispatch('arg_max', 'opskpi')(value, key, 'desc', where, nulls)) }}
{%- endmacro %}

{% macro arg_min(value, key, where=none, nulls=false) -%}
    {{ return(adapter.dispatch('arg_max', 'opskpi')(value, key, 'asc', where, nulls)) }}
{%- endmacro %}

{% macro default__arg_max(value, key, direction, where, nulls) -%}
    {%- set conditions = ([] if nulls else [value ~ ' is not null']) + [key ~ ' is not null'] + ([] if where is none else ['(' ~ where ~ ')']) -%}
    (array_agg({{ value }} order by {{ key }} {{ direction }}) filter (where {{ conditions | join(' and ') }}))[1]
{%- endmacro %}

{% macro duckdb__arg_max(value, key, direction, where, nulls) -%}
    {{ 'arg_max' if direction == 'desc' else 'arg_min' }}{{ '_null' if nulls }}({{ value }}, {{ key }})
    {%- if where is not none %} filter (where {{ where }}){% endif %}
{%- endmacro %}

{#- A decimal literal such as 1000000.0 as a divisor that makes a quotient double precision on both: DuckDB divides
    by a DECIMAL literal in DOUBLE, Postgres in exact NUMERIC (and would store NUMERIC columns). -#}
{% macro exact_divisor(literal) -%}
    {{ return(adapter.dispatch('exact_divisor', 'opskpi')(literal)) }}
{%- endmacro %}

{% macro default__exact_divisor(literal) -%}
    cast({{ literal }} as double precision)
{%- endmacro %}

{% macro duckdb__exact_divisor(literal) -%}
    {{ literal }}
{%- endmacro %}

{#- `text` split at `separator` (a SQL string) into a text array (DuckDB string_split). -#}
{% macro split_to_array(text, separator) -%}
    {{ return(adapter.dispatch('split_to_array', 'opskpi')(text, separator)) }}
{%- endmacro %}

{% macro default__split_to_array(text, separator) -%}
    string_to_array({{ text }}, {{ separator }})
{%- endmacro %}

{% macro duckdb__split_to_array(text, separator) -%}
    string_split({{ text }}, {{ separator }})
{%- endmacro %}

{#- Set-returning, in a select list: one row per day from `start_date` to `end_date` (DATE expressions) inclusive
    (cast the result to date). Postgres is given timestamps (without zone): a date would resolve to the timestamptz
    series and depend on the session's time zone. -#}
{% macro date_series(start_date, end_date) -%}
    {{ return(adapter.dispatch('date_series', 'opskpi')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__date_series(start_date, end_date) -%}
    generate_series(cast({{ start_date }} as timestamp), cast({{ end_date }} as timestamp), interval '1 day')
{%- endmacro %}

{% macro duckdb__date_series(start_date, end_date) -%}
    unnest(generate_series({{ start_date }}, {{ end_date }}, interval '1 day'))
{%- endmacro %}

{#- Every match of `pattern` (a SQL string) in `text`, capture group `group`, as a text array; an empty array for a
    null text (DuckDB regexp_extract_all; the pattern must mean the same in RE2 and POSIX ERE). -#}
{% macro regex_extract_all(text, pattern, group) -%}
    {{ return(adapter.dispatch('regex_extract_all', 'opskpi')(text, pattern, group)) }}
{%- endmacro %}

{% macro default__regex_extract_all(text, pattern, group) -%}
    array(select match[{{ group }}] from regexp_matches({{ text }}, {{ pattern }}, 'g') as matches(match))
{%- endmacro %}

{% macro duckdb__regex_extract_all(text, pattern, group) -%}
    coalesce(regexp_extract_all({{ text }}, {{ pattern }}, {{ group }}), []::varchar[])
{%- endmacro %}

{#- Whether some element of the text array `array_expr`, lower-cased, is in the text array `values` (false for a null
    array; DuckDB list_intersect over a lambda). -#}
{% macro lowered_overlaps(array_expr, values) -%}
    {{ return(adapter.dispatch('lowered_overlaps', 'opskpi')(array_expr, values)) }}
{%- endmacro %}

{% macro default__lowered_overlaps(array_expr, values) -%}
    exists (select 1 from unnest({{ array_expr }}) as elements(element) where lower(element) = any({{ values }}))
{%- endmacro %}

{% macro duckdb__lowered_overlaps(array_expr, values) -%}
    len(list_intersect(
        list_transform(coalesce({{ array_expr }}, []::varchar[]), label -> lower(label)),
        {{ values }}
    )) > 0
{%- endmacro %}

{#- The value of `expr` on the last row in the order `order_by` (SQL), an aggregate (DuckDB last(... order by)). -#}
{% macro last_ordered(expr, order_by) -%}
    {{ return(adapter.dispatch('last_ordered', 'opskpi')(expr, order_by)) }}
{%- endmacro %}

{% macro default__last_ordered(expr, order_by) -%}
    (array_agg({{ expr }} order by {{ order_by }}))[count(*)]
{%- endmacro %}

{% macro duckdb__last_ordered(expr, order_by) -%}
    last(
            {{ expr }}
            order by {{ order_by }}
        )
{%- endmacro %}

{#- A query whose one row holds the comment of the table `relation` (no row when it does not exist). -#}
{% macro table_comment_query(relation) -%}
    {{ return(adapter.dispatch('table_comment_query', 'opskpi')(relation)) }}
{%- endmacro %}

{% macro default__table_comment_query(relation) -%}
    select obj_description(to_regclass('{{ relation.schema }}.{{ relation.identifier }}'), 'pg_class') as comment
    where to_regclass('{{ relation.schema }}.{{ relation.identifier }}') is not null
{%- endmacro %}

{% macro duckdb__table_comment_query(relation) -%}
        select comment
        from duckdb_tables()
        where database_name = '{{ relation.database }}'
          and schema_name = '{{ relation.schema }}'
          and table_name = '{{ relation.identifier }}'
{%- endmacro %}

{#- Integer division of two integer expressions (DuckDB `//`; on Postgres `/` of integers already truncates, while
    DuckDB's `/` would give a DOUBLE). -#}
{% macro int_div(dividend, divisor) -%}
    {{ return(adapter.dispatch('int_div', 'opskpi')(dividend, divisor)) }}
{%- endmacro %}

{% macro default__int_div(dividend, divisor) -%}
    ({{ dividend }} / {{ divisor }})
{%- endmacro %}

{% macro duckdb__int_div(dividend, divisor) -%}
    {{ dividend }} // {{ divisor }}
{%- endmacro %}

{#- The English name of a date's weekday ('Monday') and month ('January'). -#}
{% macro day_name(date_expr) -%}
    {{ return(adapter.dispatch('day_name', 'opskpi')(date_expr)) }}
{%- endmacro %}

{% macro default__day_name(date_expr) -%}
    to_char({{ date_expr }}, 'FMDay')
{%- endmacro %}

{% macro duckdb__day_name(date_expr) -%}
    dayname({{ date_expr }})
{%- endmacro %}

{% macro month_name(date_expr) -%}
    {{ return(adapter.dispatch('month_name', 'opskpi')(date_expr)) }}
{%- endmacro %}

{% macro default__month_name(date_expr) -%}
    to_char({{ date_expr }}, 'FMMonth')
{%- endmacro %}

{% macro duckdb__month_name(date_expr) -%}
    monthname({{ date_expr }})
{%- endmacro %}

{#- The first match of `pattern` (a SQL string) in `text`, or its capture group `group`; '' when nothing matches
    (DuckDB regexp_extract; Postgres's substring gives null there, and the first group of a pattern that has one). -#}
{% macro regex_extract(text, pattern, group=0) -%}
    {{ return(adapter.dispatch('regex_extract', 'opskpi')(text, pattern, group)) }}
{%- endmacro %}

{% macro default__regex_extract(text, pattern, group) -%}
    {%- if group not in (0, 1) -%}
        {{ exceptions.raise_compiler_error("regex_extract: Postgres gives the whole match or group 1, not " ~ group) }}
    {%- endif -%}
    case when {{ text }} is not null then coalesce(substring({{ text }} from {{ pattern }}), '') end
{%- endmacro %}

{% macro duckdb__regex_extract(text, pattern, group) -%}
    regexp_extract({{ text }}, {{ pattern }}{{ ", " ~ group if group else "" }})
{%- endmacro %}

{#- The first non-null `expr` in the order `order_by` (SQL), an aggregate (DuckDB any_value(... order by)). -#}
{% macro first_ordered(expr, order_by) -%}
    {{ return(adapter.dispatch('first_ordered', 'opskpi')(expr, order_by)) }}
{%- endmacro %}

{% macro default__first_ordered(expr, order_by) -%}
    (array_agg({{ expr }} order by {{ order_by }}) filter (where {{ expr }} is not null))[1]
{%- endmacro %}

{% macro duckdb__first_ordered(expr, order_by) -%}
    any_value({{ expr }} order by {{ order_by }})
{%- endmacro %}

{#- Fails the query with `message` (SQL text) where it is evaluated (DuckDB error(); null otherwise). Postgres has no
    such function: there it is null, and a test using it fails by the rows it returns, which name the same. -#}
{% macro raise_error(message) -%}
    {{ return(adapter.dispatch('raise_error', 'opskpi')(message)) }}
{%- endmacro %}

{% macro default__raise_error(message) -%}
    cast(null as text)
{%- endmacro %}

{% macro duckdb__raise_error(message) -%}
    error({{ message }})
{%- endmacro %}
