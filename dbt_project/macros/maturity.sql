{#-
    Maturity scorecard parameters (contract kpi-definitions-wave2.md §7; docs/metrics.md "Maturity scorecard"):
    the rubric version (config maturity.rubric_version -> var maturity_rubric_version) and the attestations
    (config maturity.attestations -> var maturity_attestations), validated by the config model and again here, so a
    hand-written --vars fails with a message naming the var instead of a SQL error.
-#}

{#- The rubric version whose rows of seed maturity_rubric are evaluated (default v1), as a SQL string literal. -#}
{% macro maturity_rubric_version() -%}
    {%- set value = var('maturity_rubric_version', 'v1') | string | trim -%}
    {%- if not modules.re.match('^[A-Za-z0-9_.-]+$', value) -%}
        {{ exceptions.raise_compiler_error("var maturity_rubric_version must be a version name like v1, got '" ~ value ~ "'") }}
    {%- endif -%}
    '{{ value }}'
{%- endmacro %}


{#- The attestations as a relation (criterion_id, scope_type, scope_id, attested_by, attested_at, expires_at,
    evidence_url); no rows when none. expires_at defaults to attested_at + 365 days (the pipeline passes it filled
    in; a bare --vars may omit it). -#}
{% macro maturity_attestations_relation() -%}
    {%- set items = var('maturity_attestations', []) or [] -%}
    {%- if items is string or items is mapping -%}
        {{ exceptions.raise_compiler_error("var maturity_attestations must be a list of attestations, got '" ~ items ~ "'") }}
    {%- endif -%}
    {%- set columns = ['criterion_id', 'scope_type', 'scope_id', 'attested_by', 'attested_at', 'expires_at',
                       'evidence_url'] -%}
    {%- if items | length == 0 -%}
        (select cast(null as varchar) as criterion_id, cast(null as varchar) as scope_type,
                cast(null as varchar) as scope_id, cast(null as varchar) as attested_by,
                cast(null as timestamptz) as attested_at, cast(null as timestamptz) as expires_at,
                cast(null as varchar) as evidence_url
         where false)
    {%- else -%}
        (select criterion_id, scope_type, scope_id, attested_by, cast(attested_at as timestamptz) as attested_at,
                coalesce(cast(expires_at as timestamptz), cast(attested_at as timestamptz) + interval 365 day)
                    as expires_at,
                evidence_url
         from (values
        {%- for item in items %}
            {%- if item is not mapping or not item.get('criterion_id') or not item.get('attested_at') -%}
                {{ exceptions.raise_compiler_error("var maturity_attestations[" ~ loop.index0 ~ "] needs criterion_id and attested_at, got '" ~ item ~ "'") }}
            {%- endif %}
            (
            {%- for column in columns -%}
                {%- set value = item.get(column) -%}
                {%- if value is none -%}cast(null as varchar){%- else -%}'{{ value | string | trim | replace("'", "''") }}'{%- endif -%}
                {{ ", " if not loop.last }}
            {%- endfor -%}
            ){{ "," if not loop.last }}
        {%- endfor %}
        ) as attestations({{ columns | join(', ') }}))
    {%- endif -%}
{%- endmacro %}


{#- SQL predicate: a criterion's evidence value meets its threshold (`comparison` >=, >, <=, <, =). Inclusive
    bounds are widened by 1e-9 (as dora_meets_threshold) so a percentage that is 80 mathematically is not lost to
    floating point. -#}
{% macro maturity_meets(value_expr, comparison_expr, threshold_expr) -%}
    case {{ comparison_expr }}
        when '>=' then {{ value_expr }} >= {{ threshold_expr }} - 1e-9 * greatest(1, abs({{ threshold_expr }}))
        when '>' then {{ value_expr }} > {{ threshold_expr }} + 1e-9 * greatest(1, abs({{ threshold_expr }}))
        when '<=' then {{ value_expr }} <= {{ threshold_expr }} + 1e-9 * greatest(1, abs({{ threshold_expr }}))
        when '<' then {{ value_expr }} < {{ threshold_expr }} - 1e-9 * greatest(1, abs({{ threshold_expr }}))
        when '=' then abs({{ value_expr }} - {{ threshold_expr }}) <= 1e-9 * greatest(1, abs({{ threshold_expr }}))
    end
{%- endmacro %}


{#- The windowed aggregate of one evidence query: for every (day, scope) of int_maturity__grid and every window
    length the selected rubric gives this evidence, the `aggregates` ((name, expression over `facts.`) pairs) of
    the scoped facts whose `day_column` falls in the window ending on the day, with facts_in_window = how many. A
    (day, scope, window) without facts has no row; the caller's left join makes that the empty population.

    Every fact row joins every grid day whose window holds it (up to 90 of them), so `facts` should be as few rows
    as the aggregates allow: facts pre-counted per scope, day and whatever the aggregates filter on, with the count
    in column `weight` (aggregates then sum it: maturity_weighted_count), not one row per incident or issue: at
    `large`, one row per Jira issue would make this join 90 days x 200,000 issues x 2 scopes every night. -#}
{% macro maturity_windowed(evidence, facts, day_column, aggregates, weight=none) -%}
    select
        grid.day,
        grid.scope_type,
        grid.scope_id,
        windows.evidence,
        windows.window_days,
        {%- for name, expression in aggregates %}
        {{ expression }} as {{ name }},
        {%- endfor %}
        {{ maturity_weighted_count(weight) if weight else 'count(*)' }} as facts_in_window
    from {{ ref('int_maturity__grid') }} as grid
    inner join criterion_windows as windows
        on windows.evidence = '{{ evidence }}'
    inner join {{ facts }} as facts
        on facts.scope_type = grid.scope_type
        and facts.scope_id = grid.scope_id
        and facts.{{ day_column }} between grid.day - (windows.window_days - 1) and grid.day
    group by grid.day, grid.scope_type, grid.scope_id, windows.evidence, windows.window_days
{%- endmacro %}


{#- How many facts a pre-counted `facts` relation stands for (of those matching `where`): as count(*) would give
    for the rows it counts, a BIGINT and 0 (not NULL) when none match. -#}
{% macro maturity_weighted_count(weight, where=none) -%}
    coalesce(cast(sum(facts.{{ weight }}){{ ' filter (where ' ~ where ~ ')' if where }} as bigint), 0)
{%- endmacro %}


{#- Per (day, scope) of int_maturity__grid and KPI of `facts` (scope_type, scope_id, kpi, day, value): the KPI's value
    over the recent period d-29..d and over the prior one d-119..d-30, pooled from the facts (the median; for a KPI
    in `rate_kpis`, 100 x the mean of its 0/1 values) with each period's sample size; only where both periods have
    a fact (recent_value, recent_sample_size, prior_value, prior_sample_size). -#}
{% macro maturity_recent_and_prior(facts, rate_kpis) -%}
    {{ return(adapter.dispatch('maturity_recent_and_prior')(facts, rate_kpis)) }}
{%- endmacro %}


{#- Portable: every fact joins each grid day whose 120 days hold it, then one group per day and period. -#}
{% macro default__maturity_recent_and_prior(facts, rate_kpis) -%}
    with windowed as (
        select
            grid.day, grid.scope_type, grid.scope_id, facts.kpi,
            case when facts.day >= grid.day - 29 then 'recent' else 'prior' end as period,
            facts.value
        from {{ ref('int_maturity__grid') }} as grid
        inner join {{ facts }} as facts
            on facts.scope_type = grid.scope_type
            and facts.scope_id = grid.scope_id
            and facts.day between grid.day - 119 and grid.day
    ),

    pooled as (
        select
            day, scope_type, scope_id, kpi, period,
            {{ maturity_pooled_value(rate_kpis, 'avg(value)', 'quantile_cont(value, 0.5)') }} as value,
            count(*) as sample_size
        from windowed
        group by day, scope_type, scope_id, kpi, period
    )

    select
        recent.day, recent.scope_type, recent.scope_id, recent.kpi,
        recent.value as recent_value, recent.sample_size as recent_sample_size,
        prior.value as prior_value, prior.sample_size as prior_sample_size
    from pooled as recent
    inner join pooled as prior
        on prior.day = recent.day
        and prior.scope_type = recent.scope_type
        and prior.scope_id = recent.scope_id
        and prior.kpi = recent.kpi
        and prior.period = 'prior'
    where recent.period = 'recent'
{%- endmacro %}


{#- DuckDB: windowed aggregates over the facts in day order, with one valueless row per grid day as the frame's
    anchor. The join above makes 120 rows of every scoped fact (at `large`, 300,000 pull requests' lead times alone
    give 7 x 10^7 a night); DuckDB's windowed median keeps each frame in a merge-sort tree instead: 3.5 x faster on
    300,000 synthetic facts over 365 days (9.7 s against 33.7 s), with the same figures
    (test_dbt_maturity.py::test_the_windowed_periods_equal_the_pooled_join compares the two). -#}
{% macro duckdb__maturity_recent_and_prior(facts, rate_kpis) -%}
    with anchored as (
        select scope_type, scope_id, kpi, day, value, false as is_grid_day
        from {{ facts }}
        union all
        select grid.scope_type, grid.scope_id, kpis.kpi, grid.day, null, true
        from {{ ref('int_maturity__grid') }} as grid
        cross join (select distinct kpi from {{ facts }}) as kpis
    ),

    framed as (
        select
            day, scope_type, scope_id, kpi, is_grid_day,
            {{ maturity_pooled_value(rate_kpis, 'avg(value) over recent', 'quantile_cont(value, 0.5) over recent') }}
                as recent_value,
            count(value) over recent as recent_sample_size,
            {{ maturity_pooled_value(rate_kpis, 'avg(value) over prior', 'quantile_cont(value, 0.5) over prior') }}
                as prior_value,
            count(value) over prior as prior_sample_size
        from anchored
        window
            recent as (partition by scope_type, scope_id, kpi order by day
                       range between interval 29 day preceding and current row),
            prior as (partition by scope_type, scope_id, kpi order by day
                      range between interval 119 day preceding and interval 30 day preceding)
    )

    select day, scope_type, scope_id, kpi, recent_value, recent_sample_size, prior_value, prior_sample_size
    from framed
    where is_grid_day and recent_sample_size > 0 and prior_sample_size > 0
{%- endmacro %}


{#- A period's value: 100 x the mean for the rate KPIs, else the median (both given as SQL over the period). -#}
{% macro maturity_pooled_value(rate_kpis, mean_sql, median_sql) -%}
    case when kpi in ('{{ rate_kpis | join("', '") }}') then 100.0 * {{ mean_sql }} else {{ median_sql }} end
{%- endmacro %}


{#- The maturity scopes for rows_per_scope: team and org. -#}
{% macro maturity_scopes() -%}
    {{ return([('team', 'team'), ('org', "'org'")]) }}
{%- endmacro %}
