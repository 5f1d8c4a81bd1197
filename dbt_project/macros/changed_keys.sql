{#-
    Entity-keyed incremental models (`materialized='incremental'`, `incremental_strategy='delete+insert'`,
    `unique_key` = the entity key). An incremental run recomputes only what the raw rows loaded since the table's
    newest value of its watermark column can have changed, and replaces it:

      changed_rows_filter()                 1:1 staging of a raw table: the raw rows with `_loaded_at` after the
                                            newest `_loaded_at` the table holds;
      changed_keys_filter(keys, source)     a per-entity summary: every entity with a raw row loaded after the
                                            table's newest `_source_loaded_at` (the max `_loaded_at` of the raw rows
                                            each row was computed from), all of whose rows are then re-read.

    The watermark lives in the table itself, written in the same statement as the rows it covers. This is right
    when a row depends only on its own entity's raw rows (no other entity, no run parameter such as as_of): the
    loader merges every new or changed record with a new `_loaded_at` and never deletes a raw row, so an entity
    with no newer raw row keeps the row it had. When the code behind the model changes (its SQL, any model or
    macro it uses: incremental_code_md5, kept in the table comment), the run recomputes everything instead, so a
    deploy never leaves rows computed by old code. A model declares all this with changed_rows_config(unique_key).
    tests/integration/test_dbt_incremental_equals_full.py checks incremental == full refresh.
-#}

{#- The config of such a model: `{{ changed_rows_config(['repo', 'pull_number']) }}` at the top of it. -#}
{% macro changed_rows_config(unique_key, on_schema_change='sync_all_columns') -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=unique_key,
        on_schema_change=on_schema_change,
        pre_hook="{{ changed_rows_pre_hook() }}",
        post_hook="{{ changed_rows_post_hook() }}",
    ) }}
{%- endmacro %}


{#- 'changes' on an incremental run whose table was built by the same code, else 'all'. -#}
{% macro changed_rows_mode() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return('all') }}
    {%- endif -%}
    {%- set previous = incremental_state_read(this) -%}
    {%- if previous is none or previous.get('code_md5') != incremental_code_md5() -%}
        {{ return('all') }}
    {%- endif -%}
    {{ return('changes') }}
{%- endmacro %}


{% macro changed_rows_filter() -%}
    {%- if changed_rows_mode() == 'changes' -%}
        _loaded_at > {{ changed_rows_watermark('_loaded_at') }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{% macro changed_keys_filter(keys, source_relation, watermark='_source_loaded_at') -%}
    {%- if changed_rows_mode() == 'changes' -%}
        ({{ keys | join(', ') }}) in (
            select {{ keys | join(', ') }}
            from {{ source_relation }}
            where _loaded_at > {{ changed_rows_watermark(watermark) }}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- SQL: the newest value of `column` in the table (an empty table: every row is newer). -#}
{% macro changed_rows_watermark(column) -%}
    (select coalesce(max({{ column }}), cast('1970-01-01 00:00:00+00' as timestamptz)) from {{ this }})
{%- endmacro %}


{#- Pre-hook: a run that recomputes everything first empties the table (delete+insert replaces only keys it writes). -#}
{% macro changed_rows_pre_hook() -%}
    {%- if execute and is_incremental() and changed_rows_mode() == 'all' -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}


{#- Post-hook: remember the code the rows were computed by. -#}
{% macro changed_rows_post_hook() -%}
    {%- if execute -%}
        comment on table {{ this }} is '{{ tojson({"code_md5": incremental_code_md5()}) }}'
    {%- endif -%}
{%- endmacro %}
