{#- dbt's `relationships` test, from many models at once: every value of `column_name` in each model of `models`
    (refs) is a key of the dimension the test is declared on. One test per dimension instead of one per model and
    key (~50 dbt nodes, each paying dbt's per-node overhead in every build) checks the same thing. A failing row
    names the model and the key that does not join. NULL keys fail too: the keys are never NULL (macros
    conformed_keys.sql gives a missing entity the none member). -#}
{% test keys_join(model, column_name, models) %}
with dimension as (

    select {{ column_name }} as key from {{ model }}

),

used as (
    {%- for relation in models %}
    {{ 'union all' if not loop.first }}
    select '{{ relation.identifier }}' as model, {{ column_name }} as key from {{ relation }}
    {%- endfor %}
)

select used.model, used.key, count(*) as rows_not_joining
from used
left join dimension
    on used.key = dimension.key
where dimension.key is null
group by used.model, used.key
{% endtest %}
