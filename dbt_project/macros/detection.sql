{#- Time to detect (docs/metrics.md "Time to detect"): the configured impact-start paths and clock-skew bound. -#}

{#- Var `detection_impact_start_paths` (config detection.impact_start_paths): dotted paths into an alert record, as a
    Python list of validated dotted paths ('body.cef_details.creation_time', read with json_text). -#}
{% macro detection_impact_start_json_paths() -%}
    {%- set paths = var('detection_impact_start_paths', ['body.cef_details.creation_time']) -%}
    {%- if paths is string -%}
        {%- set paths = paths.split(',') -%}
    {%- endif -%}
    {%- set out = [] -%}
    {%- for path in paths -%}
        {%- set path = path | string | trim -%}
        {%- if not modules.re.match('^[A-Za-z0-9_]+([.][A-Za-z0-9_]+)*$', path) -%}
            {{ exceptions.raise_compiler_error("var detection_impact_start_paths: '" ~ path ~ "' is not a dotted path of "
                ~ "field names, e.g. body.cef_details.creation_time") }}
        {%- endif -%}
        {%- do out.append(path) -%}
    {%- endfor -%}
    {%- if not out -%}
        {{ exceptions.raise_compiler_error("var detection_impact_start_paths is empty: give at least one path, e.g. "
            ~ "body.cef_details.creation_time") }}
    {%- endif -%}
    {{ return(out) }}
{%- endmacro %}


{#- SQL: the text at `json_path` of `record` as an instant when it is an ISO-8601 timestamp with a UTC offset
    (`Z`, `+02:00`, `+0200`), else NULL: a stamp without an offset says nothing about the instant. -#}
{% macro iso_instant_with_offset(text_expr) -%}
    case
        when {{ regex_matches(text_expr,
            "'^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$'") }}
            then {{ try_cast(text_expr, 'timestamptz') }}
    end
{%- endmacro %}


{#- SQL: the alert's impact start: the first path whose value parses as an ISO-8601 instant with an offset. -#}
{% macro detection_impact_start(record) -%}
    coalesce(
    {%- for path in detection_impact_start_json_paths() %}
        {{ iso_instant_with_offset(json_text(record, path)) }}{{ "," if not loop.last }}
    {%- endfor %}
        , cast(null as timestamptz)
    )
{%- endmacro %}


{#- SQL: the first non-null value at the paths, as text (what the monitor sent, parsed or not). -#}
{% macro detection_impact_start_text(record) -%}
    coalesce(
    {%- for path in detection_impact_start_json_paths() %}
        {{ json_text(record, path) }}{{ "," if not loop.last }}
    {%- endfor %}
        , cast(null as varchar)
    )
{%- endmacro %}


{#- Var `detection_max_clock_skew_s` (config detection.max_clock_skew, default 5m) in seconds. -#}
{% macro detection_max_clock_skew_s() -%}
    {%- set value = var('detection_max_clock_skew_s', 300) | string | trim -%}
    {%- if not value.isdigit() -%}
        {{ exceptions.raise_compiler_error("var detection_max_clock_skew_s must be a whole number of seconds, got '"
            ~ value ~ "'") }}
    {%- endif -%}
    {{ value }}
{%- endmacro %}
