{#-
    The history window: a day grid (reporting days, Jira flow, DORA) starts at the later of the first record's day and
    the start of the history the pipeline read for the streams the grid counts, from meta.stream_coverage: per
    stream the earliest `window_start` (the first run's as_of - history_days; a later full refresh can only move it
    earlier), and over several streams the latest of those (the grid is complete only where all of them are). Each
    grid reads its own streams: another stream's window says nothing about this one's records (the security walks
    re-read open alerts from their oldest, months before the history start, and must not stretch the Jira or DORA
    grids back to days whose issues or pull requests were never read). A record dated before its window (a Jira
    issue created years ago and updated since, a bad 1970 timestamp) is left out of the grids instead of stretching
    them back to its date, and pipeline_health_daily counts it (records_before_window). Without
    meta.stream_coverage (a bare dbt build, the hand-built tests) there is no window and the grids start at the
    first record.
-#}

{#- SQL: the window's start (TIMESTAMPTZ) for `streams`, a list of (source, stream); NULL when unknown. -#}
{% macro history_window_start(streams) -%}
    {%- set coverage = source('meta', 'stream_coverage') -%}
    {%- if security_relation_exists(coverage) and streams -%}
        (select max(stream_start) from (
            select min(window_start) as stream_start
            from {{ coverage }}
            where {% for source_name, stream in streams -%}
                (source = '{{ source_name }}' and stream = '{{ stream }}'){{ " or " if not loop.last }}
            {%- endfor %}
            group by source, stream
        ) as stream_starts)
    {%- else -%}
        cast(null as timestamptz)
    {%- endif -%}
{%- endmacro %}


{#- SQL: the first day of a day grid whose data starts on `first_data_day` (a DATE expression, may be NULL) and
    whose records come from `streams` (history_window_start), complete `complete_after_s` seconds after their window's
    start when the pipeline reads them further back than the grid needs (DORA: dora_max_deploy_lag_s). The grid
    starts on the first day wholly inside the window (first_whole_local_day: a first run during the day reads its
    history from that time of day, so the window's first day is partial). A grid
    without data starts on the run date: the window
    is no reason to publish empty days, and it differs between a backfill and one run over the same data.
    `greatest` skips NULLs on DuckDB and Postgres alike, so the NULL case is spelt out. -#}
{% macro reporting_first_day(first_data_day, streams, complete_after_s=none) -%}
    {%- set window_start = history_window_start(streams) -%}
    {%- if complete_after_s is not none -%}
        {%- set window_start = '(' ~ window_start ~ ' + ' ~ seconds_interval(complete_after_s) ~ ')' -%}
    {%- endif -%}
    case
        when ({{ first_data_day }}) is null then {{ run_date() }}
        else least(
            greatest({{ first_data_day }},
                     coalesce({{ first_whole_local_day(window_start) }}, {{ first_data_day }})),
            {{ run_date() }}
        )
    end
{%- endmacro %}


{#- The records whose date can stretch a grid: (source, stream, staging model, timestamp column). -#}
{% macro history_window_records() -%}
    {{ return([
        ('pagerduty', 'incidents', 'stg_pagerduty__incidents', 'created_at'),
        ('jira', 'issues', 'stg_jira__issues', 'created_at'),
        ('github', 'pulls', 'stg_github__pulls', 'created_at'),
        ('github', 'deployments', 'stg_github__deployments', 'created_at'),
    ]) }}
{%- endmacro %}


{#- SQL: (source, stream, records_before_window) for every stream of history_window_records(). -#}
{% macro records_before_window() -%}
    {%- for source_name, stream, model, column in history_window_records() %}
    select '{{ source_name }}' as source, '{{ stream }}' as stream, count(*) as records_before_window
    from {{ ref(model) }}
    where {{ column }} < {{ history_window_start([(source_name, stream)]) }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}
