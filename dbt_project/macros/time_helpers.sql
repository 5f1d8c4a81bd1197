{#- Time arithmetic used across models. All stored timestamps are TIMESTAMPTZ (instants, UTC). -#}

{#- API timestamp string -> TIMESTAMPTZ. DuckDB's cast accepts `Z`, `+00:00` and Jira's `+0000` / `-0800`. -#}
{% macro api_timestamp(json_text_expr) -%}
    cast({{ json_text_expr }} as timestamptz)
{%- endmacro %}


{#- Exact elapsed seconds (DOUBLE) between two instants, computed from integer microseconds. -#}
{% macro seconds_between(start_expr, end_expr) -%}
    (({{ epoch_us(end_expr) }} - {{ epoch_us(start_expr) }}) / {{ exact_divisor('1000000.0') }})
{%- endmacro %}


{#- The calendar day (in the reporting time zone) that an instant falls on. Independent of the session TZ. -#}
{% macro to_local_date(ts_expr) -%}
    cast(timezone({{ reporting_tz() }}, {{ ts_expr }}) as date)
{%- endmacro %}


{#- The first calendar day (reporting time zone) that lies wholly at or after an instant: its own day when the instant
    is local midnight, else the next (a history window that starts at 14:37 read that day's afternoon only). -#}
{% macro first_whole_local_day(ts_expr) -%}
    ({{ to_local_date('(' ~ ts_expr ~ ") - interval '1 microsecond'") }} + 1)
{%- endmacro %}


{#- Local midnight at the start of a DATE, as a UTC instant. -#}
{% macro local_midnight_utc(date_expr) -%}
    timezone({{ reporting_tz() }}, cast({{ date_expr }} as timestamp))
{%- endmacro %}
