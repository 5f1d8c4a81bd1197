{#- Records `dbt source freshness`'s results for the run date in meta.source_freshness: called as a dbt operation by
    opskpi/dbt_session.py between freshness and the build, in the process that holds the warehouse (a second DuckDB
    connection from Python would be refused). The rows are dbt's sources.json as opskpi/freshness.py parses it; a
    rerun of the date replaces the date's rows, in one transaction. -#}
{% macro record_source_freshness(rows_path, run_date, run_id) %}
  {%- set columns -%}
    {source: 'VARCHAR', source_table: 'VARCHAR', status: 'VARCHAR', max_loaded_at: 'VARCHAR',
     snapshotted_at: 'VARCHAR', age_s: 'DOUBLE', warn_after_s: 'DOUBLE', error_after_s: 'DOUBLE'}
  {%- endset %}
  {%- set quoted = {} -%}
  {%- for name, value in [('run_date', run_date), ('run_id', run_id), ('rows_path', rows_path)] -%}
    {%- do quoted.update({name: "'" ~ (value | string | replace("'", "''")) ~ "'"}) -%}
  {%- endfor %}
  {% call statement('record_source_freshness') %}
    create schema if not exists meta;
    create table if not exists meta.source_freshness (
        run_date DATE, run_id VARCHAR, source VARCHAR, source_table VARCHAR, status VARCHAR,
        max_loaded_at TIMESTAMPTZ, snapshotted_at TIMESTAMPTZ, age_s DOUBLE, warn_after_s DOUBLE,
        error_after_s DOUBLE);
    delete from meta.source_freshness where run_date = {{ quoted.run_date }}::date;
    insert into meta.source_freshness
    select {{ quoted.run_date }}::date, {{ quoted.run_id }},
           source, source_table, status, max_loaded_at::timestamptz, snapshotted_at::timestamptz, age_s,
           warn_after_s, error_after_s
    from read_json({{ quoted.rows_path }}, format = 'array', columns = {{ columns }});
  {% endcall %}
  {#- dbt runs an operation in a transaction it never commits -#}
  {% do adapter.commit() %}
{% endmacro %}
