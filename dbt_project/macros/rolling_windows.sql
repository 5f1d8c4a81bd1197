{#-
    The rolling-window arithmetic every KPI area shares, so that a new windowed KPI is one declaration:

      rows_per_scope(relation_sql, scopes)   the rows once per scope level, prefixed with scope_type and
                                             scope_id; `scopes` lists (scope_type, id expression), e.g.
                                             [('repo', 'repo'), ('team', 'team'), ('org', "'org'")]
      window_stats(windows, facts, day_column, stats, where)
                                             per snapshot date, window (1d / 7d / 30d of
                                             int_kpi_snapshot_windows) and scope: the `stats` (a list of
                                             (name, aggregate over `facts.`)) of the facts whose `day_column`
                                             falls in the window, and sample_size = how many there were.
                                             Percentiles are exact over the window's facts (quantile_cont),
                                             never averaged from daily figures. A scope and window without facts
                                             has no row: the area's left join turns that into NULL / 0.
-#}

{% macro rows_per_scope(relation_sql, scopes) -%}
    {%- for scope_type, id_expr in scopes %}
    select '{{ scope_type }}' as scope_type, {{ id_expr }} as scope_id, * from ({{ relation_sql }}) as scoped_rows
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{% macro window_stats(windows, facts, day_column, stats, where=none) -%}
    select
        windows.snapshot_date,
        windows."window",
        facts.scope_type,
        facts.scope_id,
        {%- for name, expression in stats %}
        {{ expression }} as {{ name }},
        {%- endfor %}
        count(*) as sample_size
    from {{ windows }} as windows
    inner join {{ facts }} as facts
        on facts.{{ day_column }} between windows.window_start_day and windows.snapshot_date
    {%- if where %}
    where {{ where }}
    {%- endif %}
    group by windows.snapshot_date, windows."window", facts.scope_type, facts.scope_id
{%- endmacro %}


{#- SQL: the exact q-quantile of `column` (a rolling-window or daily percentile). -#}
{% macro percentile(column, q) -%}
    {{ quantile_cont(column, q) }}
{%- endmacro %}


{#- SQL: whether the window of `window_days` days ending on `day_expr` lies inside the day grid of `grid` (a
    relation with a `day` column starting on the first day whose input is complete: macros/history_window.sql).
    false while the window still reaches before it (the first 29 days of a 30-day window after a fresh install):
    the figure is provisional, so the report and the snapshot show it as such instead of as a trend or tier. -#}
{% macro window_sample_complete(day_expr, window_days, grid) -%}
    coalesce(({{ day_expr }}) - ({{ window_days }} - 1) >= (select min(day) from {{ grid }}), false)
{%- endmacro %}
