{#-
    Entity-keyed incremental models (`materialized='incremental'`, `incremental_strategy='delete+insert'`,
    `unique_key` = the entity key): an incremental run recomputes only the entities whose raw rows were loaded
    after the newest `_source_loaded_at` the table holds, and replaces them. Every such model carries
    `_source_loaded_at` = max(_loaded_at) of the raw rows it was computed from, so the watermark lives in the
    table itself and is written in the same statement as the rows it covers (no state to drift).

    This is right when a row depends only on its own entity's raw rows (nothing from other entities, no run
    parameter such as as_of): the loader merges every new or changed record with a new `_loaded_at` and never
    deletes a raw row, so an entity whose rows did not change keeps the row it had. A full refresh recomputes
    everything; the incremental == full-refresh test (tests/integration/test_dbt_incremental_equals_full.py)
    checks the result is the same.

    In the model:  where {{ changed_keys_filter(['repo', 'pull_number'], source_relation) }}
-#}
{% macro changed_keys_filter(keys, source_relation) -%}
    {%- if is_incremental() -%}
        ({{ keys | join(', ') }}) in (
            select {{ keys | join(', ') }}
            from {{ source_relation }}
            where _loaded_at > (select coalesce(max(_source_loaded_at), cast('1970-01-01 00:00:00+00' as timestamptz))
                                from {{ this }})
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
