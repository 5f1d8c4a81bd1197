{#- Keys of the conformed dimensions (models/marts/dimensions): docs/bi.md "The star schema".

    A key is a function of the natural key alone (the first 16 hex digits of an MD5 of kind and natural key), so a
    fact or daily mart computes its keys from its own columns, without a join, and the dimension computes the same
    value: the keys are stable across builds, installs and backfills. A NULL natural key (an org or team row has no
    service; a fact without a team) gets the dimension's `none` member, so no row drops out of an inner join. -#}

{% macro none_key() -%}
'-1'
{%- endmacro %}

{% macro dim_key(kind, natural_key) -%}
coalesce(substr(md5('{{ kind }}|' || cast({{ natural_key }} as varchar)), 1, 16), {{ none_key() }})
{%- endmacro %}

{#- dim_date's calendar: a fixed span, so that no build depends on the run date. -#}
{% macro dim_date_bounds() -%}
    {{ return(("date '1970-01-01'", "date '2099-12-31'")) }}
{%- endmacro %}

{#- dim_date's key of a date or timestamp's date: yyyymmdd; -1 for no date or one outside the calendar (an API's
    1970 placeholder is inside, a year 2200 typo is not). -#}
{% macro date_key(day) -%}
    {%- set first, last = dim_date_bounds() -%}
coalesce(case when cast({{ day }} as date) between {{ first }} and {{ last }}
    then cast({{ format_date('cast(' ~ day ~ ' as date)', '%Y%m%d') }} as integer) end, -1)
{%- endmacro %}

{#- The keys of a scoped mart's row (scope_type service / team / repo / project / org): the entity of the row's own
    scope, the none member for the others. A service, repository or project row reaches its team through its
    dimension (dim_service.team_key, ...): the team is an attribute of the entity. `entities`: the entity kinds
    the mart's scopes can be, of service, repository, jira_project. -#}
{% macro scope_key_columns(scope_type, scope_id, entities) -%}
    {%- set scope_of = {'service': 'service', 'repository': 'repo', 'jira_project': 'project'} -%}
    {%- set columns = [('team_key', dim_key('team', "case when " ~ scope_type ~ " = 'team' then " ~ scope_id ~ " end"))] -%}
    {%- for entity in entities -%}
        {%- do columns.append((entity ~ '_key', dim_key(entity, "case when " ~ scope_type ~ " = '" ~ scope_of[entity]
                                                             ~ "' then " ~ scope_id ~ " end"))) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{% macro scope_keys(scope_type, scope_id, entities) -%}
    {%- for name, expression in scope_key_columns(scope_type, scope_id, entities) %}
    {{ expression }} as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
