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
                coalesce(cast(expires_at as timestamptz), cast(attested_at as timestamptz) + interval '365 day')
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
    the scoped facts whose `day_column` falls in the window ending on the day, with sample_size = how many. A
    (day, scope, window) without facts has no row; the caller's left join makes that the empty population. -#}
{% macro maturity_windowed(evidence, facts, day_column, aggregates) -%}
    select
        grid.day,
        grid.scope_type,
        grid.scope_id,
        windows.evidence,
        windows.window_days,
        {%- for name, expression in aggregates %}
        {{ expression }} as {{ name }},
        {%- endfor %}
        count(*) as facts_in_window
    from {{ ref('int_maturity__grid') }} as grid
    inner join criterion_windows as windows
        on windows.evidence = '{{ evidence }}'
    inner join {{ facts }} as facts
        on facts.scope_type = grid.scope_type
        and facts.scope_id = grid.scope_id
        and facts.{{ day_column }} between grid.day - (windows.window_days - 1) and grid.day
    group by grid.day, grid.scope_type, grid.scope_id, windows.evidence, windows.window_days
{%- endmacro %}


{#- The maturity scopes for rows_per_scope: team and org. -#}
{% macro maturity_scopes() -%}
    {{ return([('team', 'team'), ('org', "'org'")]) }}
{%- endmacro %}
