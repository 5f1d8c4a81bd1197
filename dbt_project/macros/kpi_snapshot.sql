{#-
    The nightly KPI snapshot (marts.kpi_daily_snapshot): one small area model per KPI area feeds a union.

    An area model (models/intermediate/kpi_snapshot/int_kpi_snapshot__<area>.sql) returns the rows of its
    KPIs for every date of int_kpi_snapshot_windows, with exactly the columns of kpi_snapshot_area_columns().
    The union (models/marts/kpi_snapshot/kpi_daily_snapshot.sql) lists the area models, keeps the run's date
    (or, when the table is first created, every date), and stamps run_id and computed_at.
-#}

{#- The windows every KPI can be reported over: name -> length in days (ending with the snapshot date). -#}
{% macro kpi_snapshot_windows() -%}
    {{ return([('1d', 1), ('7d', 7), ('30d', 30)]) }}
{%- endmacro %}


{#- The columns (name, DuckDB type) an area model returns, in order. -#}
{% macro kpi_snapshot_area_columns() -%}
    {{ return([
        ('snapshot_date', 'date'),
        ('kpi', 'varchar'),
        ('scope_type', 'varchar'),
        ('scope_id', 'varchar'),
        ('"window"', 'varchar'),
        ('value', 'double precision'),
        ('unit', 'varchar'),
        ('sample_size', 'bigint'),
    ]) }}
{%- endmacro %}


{#- A select list casting an area's columns to the contract's types (used by the union), with `sample_complete`:
    whether the row's window lies inside the area's day grid `grid` (window_sample_complete). -#}
{% macro kpi_snapshot_area_select(relation, grid) -%}
    select
    {%- for name, type in kpi_snapshot_area_columns() %}
        cast({{ name }} as {{ type }}) as {{ name }},
    {%- endfor %}
        {{ window_sample_complete('snapshot_date', kpi_snapshot_window_days('"window"'), grid) }} as sample_complete
    from {{ relation }}
{%- endmacro %}


{#- SQL: the length in days of a snapshot window named by `window_expr` ('1d', '7d', '30d'). -#}
{% macro kpi_snapshot_window_days(window_expr) -%}
    case {{ window_expr }}
    {%- for name, days in kpi_snapshot_windows() %}
        when '{{ name }}' then {{ days }}
    {%- endfor %}
    end
{%- endmacro %}


{#-
    The body of an area whose marts do not exist yet: no rows, the right columns. `marts` names the models
    the area will read; when one of them appears in the project while the area still renders this
    placeholder, the build logs a warning saying which area model to fill in.
-#}
{% macro kpi_area_pending(area, marts) -%}
    {%- if execute -%}
        {%- set present = [] -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.name in marts -%}
                {%- do present.append(node.name) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if present -%}
            {%- do exceptions.warn("kpi_daily_snapshot: " ~ present | join(', ') ~ " exist(s) but the KPI area '" ~ area
                ~ "' still renders kpi_area_pending(): fill in models/intermediate/kpi_snapshot/int_kpi_snapshot__"
                ~ area ~ ".sql (see the model's YAML) so its KPIs reach the snapshot") -%}
        {%- endif -%}
    {%- endif -%}
    select
    {%- for name, type in kpi_snapshot_area_columns() %}
        cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
    where false
{%- endmacro %}


{#-
    The union of the area models, with a guard: every model tagged `kpi_snapshot_area` must be listed,
    so an area that was added but not registered fails the build instead of silently missing.
-#}
{% macro kpi_snapshot_union(areas) -%}
    {#- areas: (area model, the model of its day grid) pairs -#}
    {%- set area_models = areas | map('first') | list -%}
    {%- if execute -%}
        {%- set unlisted = [] -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and 'kpi_snapshot_area' in node.tags
                  and node.name not in area_models -%}
                {%- do unlisted.append(node.name) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if unlisted -%}
            {{ exceptions.raise_compiler_error("kpi_daily_snapshot: area model(s) " ~ unlisted | join(', ')
                ~ " are tagged kpi_snapshot_area but not listed in kpi_daily_snapshot.sql; add them to `areas`") }}
        {%- endif -%}
    {%- endif -%}
    {%- for area, grid in areas %}
    {{ kpi_snapshot_area_select(ref(area), ref(grid)) }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#- The pipeline's run id (OPSKPI_RUN_ID, or var `run_id`; default 'manual') as a SQL string literal. -#}
{% macro kpi_snapshot_run_id() -%}
    {%- set value = run_parameter('run_id') -%}
    {%- set value = 'manual' if value is none else value -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}


{#- Post-hook of the per-date histories (kpi_daily_snapshot, pipeline_health_daily): a run replaces its own date.
    delete+insert replaces the date's rows when this build has some; this removes those of an earlier run of the
    date that this one no longer produces (every row this build wrote carries its run id). After the insert, not
    before it as a pre-hook: dbt-duckdb adds a new column (on_schema_change) after the pre-hooks, in the same
    transaction, and DuckDB refuses to commit a table altered after rows of it were deleted ("another transaction
    has altered this table"). -#}
{% macro drop_earlier_rows_of_run_date() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where snapshot_date = {{ run_date() }} and run_id <> {{ kpi_snapshot_run_id() }}
    {%- endif -%}
{%- endmacro %}


{#- Post-hook of kpi_daily_snapshot: the conformed keys of rows written before the key columns existed (NULL after
    on_schema_change added them). The keys are a function of the row's own scope and date, so filling them in
    changes nothing of what the day showed. -#}
{% macro fill_snapshot_keys(entities) -%}
    {%- if is_incremental() -%}
        update {{ this }} set date_key = {{ date_key('snapshot_date') }}
        {%- for name, expression in scope_key_columns('scope_type', 'scope_id', entities) %},
            {{ name }} = {{ expression }}
        {%- endfor %}
        where date_key is null
    {%- endif -%}
{%- endmacro %}
