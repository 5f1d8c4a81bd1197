{#-
    DORA run parameters (dbt vars passed by the pipeline from the `dora` config section), with the
    defaults of the KPI definitions. Lists are matched case-insensitively.
-#}

{#- Deployment environments that count as production (default [production, prod]), as a VARCHAR[] literal. -#}
{% macro dora_production_environments() -%}
    {{ lowercase_list_literal('dora_production_environments', ['production', 'prod']) }}
{%- endmacro %}


{#- The environment name given to workflow-run deployments: the first production environment. -#}
{% macro dora_workflow_run_environment() -%}
    {%- set values = lowercase_list_values('dora_production_environments', ['production', 'prod']) -%}
    '{{ (values[0] if values else 'production') | replace("'", "''") }}'
{%- endmacro %}


{#- PR labels that mark a hotfix (default [hotfix]), lower-cased VARCHAR[] literal. -#}
{% macro dora_hotfix_labels() -%}
    {{ lowercase_list_literal('dora_hotfix_labels', ['hotfix']) }}
{%- endmacro %}


{#- A var that must be a whole number of seconds, rendered as one (a clear error names the var otherwise). -#}
{% macro seconds_var(name, default) -%}
    {%- set value = var(name, default) | string | trim -%}
    {%- if not modules.re.match('^[0-9]+$', value) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a whole number of seconds, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ value }}
{%- endmacro %}


{#- Seconds after a deployment in which an incident, revert or hotfix makes it a failure (default 24 h). -#}
{% macro dora_attribution_window_s() -%}
    {{ seconds_var('dora_attribution_window_s', 86400) }}
{%- endmacro %}


{#- How long a merged pull request may wait for its deployment (config dora.max_deploy_lag, default 30 d): the
    pipeline reads pull requests and deployments this much before the history start, so the DORA grid is complete
    from that much after their own window's start. -#}
{% macro dora_max_deploy_lag_s() -%}
    {{ seconds_var('dora_max_deploy_lag_s', 2592000) }}
{%- endmacro %}


{#- The report year whose thresholds classify tiers (rows of seed dora_tier_thresholds; default 2023). -#}
{% macro dora_benchmark_year() -%}
    {%- set value = var('dora_benchmark_year', 2023) | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}$', value) -%}
        {{ exceptions.raise_compiler_error("var dora_benchmark_year must be a year like 2023, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ value }}
{%- endmacro %}


{#-
    Var `dora_deploy_workflows` (default {}): repository (owner/name) -> name or file of the workflow
    whose successful runs on the default branch are that repository's deployments, instead of GitHub
    deployments. Rendered as a relation (repo, workflow) with no rows when empty.
-#}
{% macro dora_deploy_workflows_relation() -%}
    {%- set mapping = var('dora_deploy_workflows', {}) or {} -%}
    {%- if mapping is not mapping -%}
        {{ exceptions.raise_compiler_error("var dora_deploy_workflows must map owner/name to a workflow name, got '" ~ mapping ~ "'") }}
    {%- endif -%}
    {%- if mapping | length == 0 -%}
        (select cast(null as varchar) as repo, cast(null as varchar) as workflow where false)
    {%- else -%}
        (select * from (values
        {%- for repo, workflow in mapping.items() %}
            ('{{ repo | string | trim | replace("'", "''") }}', '{{ workflow | string | trim | replace("'", "''") }}'){{ "," if not loop.last }}
        {%- endfor %}
        ) as deploy_workflows(repo, workflow))
    {%- endif -%}
{%- endmacro %}


{#- Clamp a span in seconds at 0 (clock skew); NULL stays NULL (DuckDB's greatest() would turn it into 0). -#}
{% macro dora_clamped(span_expr) -%}
    case when {{ span_expr }} < 0 then 0 else {{ span_expr }} end
{%- endmacro %}


{#-
    SQL predicate: `value_expr` meets a threshold row (`comparison` '>=', '<=', '<' or 'else').
    Inclusive bounds are widened and strict ones narrowed by 1e-9 (relative), so a rate that equals a
    threshold mathematically (1 deployment in 30 days = 1/30 per day) is not lost to floating point.
-#}
{% macro dora_meets_threshold(value_expr, comparison_expr, threshold_expr) -%}
    case {{ comparison_expr }}
        when 'else' then true
        when '>=' then {{ value_expr }} >= {{ threshold_expr }} - 1e-9 * greatest(1, abs({{ threshold_expr }}))
        when '<=' then {{ value_expr }} <= {{ threshold_expr }} + 1e-9 * greatest(1, abs({{ threshold_expr }}))
        when '<' then {{ value_expr }} < {{ threshold_expr }} - 1e-9 * greatest(1, abs({{ threshold_expr }}))
    end
{%- endmacro %}


{#- The DORA scope levels for rows_per_scope: repository, team, org. -#}
{% macro dora_scopes() -%}
    {{ return([('repo', 'repo'), ('team', 'team'), ('org', "'org'")]) }}
{%- endmacro %}


{#- SQL predicates of a change-failure pull request, shared by int_dora_pull_requests (its flags) and
    int_dora_failure_links (the failures): a title starting with `Revert`, a label in var dora_hotfix_labels. -#}
{% macro dora_is_revert(title) -%}
    starts_with(coalesce({{ title }}, ''), 'Revert')
{%- endmacro %}


{% macro dora_is_hotfix(label_names) -%}
    {{ lowered_overlaps(label_names, dora_hotfix_labels()) }}
{%- endmacro %}


{#- Which base branches a revert or hotfix pull request may be merged into to make a deployment fail (config
    dora.failure_pull_request_branches): `any` (the contract: kpi-definitions.md says nothing of the branch, so a
    hotfix merged into a release branch counts), or `default` (only the default branch, as lead time counts). -#}
{% macro dora_failure_pull_request_branches() -%}
    {%- set value = var('dora_failure_pull_request_branches', 'any') | string | trim -%}
    {%- if value not in ('any', 'default') -%}
        {{ exceptions.raise_compiler_error("var dora_failure_pull_request_branches must be 'any' or 'default', got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}
