{#-
    Incremental builds of the incident models, all `delete+insert`:
      - mart_availability_daily, mart_incident_response_daily (unique_key `day`) recompute only the days
        from the earliest day that changed since the model's last build;
      - fct_incidents (unique_key `incident_id`) recomputes only the incidents that changed.

    The plan is made once, when the model compiles (incremental_window_for), and rendered into the
    compiled SQL as a one-line comment (incremental_plan_marker) from which the pre- and post-hook read it.
    The model's last build is remembered in its table comment as JSON (written by the post-hook):
      watermark_us     newest _loaded_at of the incident inputs it read (PagerDuty incidents and log
                       entries, Jira issues), epoch microseconds
      as_of_us, run_date  the run's parameters
      code_md5, parameters_md5, dimensions_md5  what every row depends on: the SQL of the model and of
                       every model upstream of it plus the macros that define the figures, the vars, and
                       the service -> name/team(/SLO) dimension (config mapping, service directory)
      recomputed_from  the first day recomputed ('all' = everything; 'changes' for fct_incidents), and
                       recompute_bounds, the candidate first days below (which rule asked for what)

    A build recomputes everything (the pre-hook deletes all rows first) when there is no usable state,
    when that code, a var or the service dimension changed (so a deploy that changes a definition rebuilds
    the history by itself), or when as_of / run_date moved backwards.
    Otherwise the daily marts recompute the days from the earliest of
      - run_date - 29 (the trailing 30 days, always),
      - the previous run_date + 1 and the local day of the previous as_of (days the previous build could
        not know in full: open incidents, incidents / acknowledgements / resolutions after its as_of),
      - the local creation day of every PagerDuty incident whose raw row has _loaded_at after the
        watermark, or one of whose state-change log entries (trigger / acknowledge / resolve) has
        _loaded_at after the watermark or was created after the previous as_of (a late acknowledgement
        moves the MTTA of the incident's creation day);
      - with Jira incidents on, the creation day of every Jira issue whose raw row changed (any type: an
        issue that stopped being an incident must leave the days it was counted on).
    An incident contributes only to days from its creation on (resolved_at >= created_at) and created_at
    never changes, so these days cover every row a change can touch. _loaded_at is compared with a
    watermark, which is safe because loads and builds never overlap (one writer holds the warehouse lock).
-#}

{% macro incremental_state_version() -%}
    {{ return('1') }}
{%- endmacro %}


{#- Days always recomputed, ending with run_date (the rolling error budget's window). -#}
{% macro incremental_trailing_days() -%}
    {{ return(30) }}
{%- endmacro %}


{% macro epoch_us_to_timestamptz(epoch_us_text) -%}
    (timestamptz '1970-01-01 00:00:00+00' + {{ microseconds_interval("cast('" ~ epoch_us_text ~ "' as bigint)") }})
{%- endmacro %}


{#- The relations an incremental incident model depends on; `kind` picks the service dimension. -#}
{% macro incident_mart_inputs(kind) -%}
    {%- set inputs = {
        'kind': kind,
        'pagerduty_incidents': ref('stg_pagerduty__incidents'),
        'pagerduty_log_entries': ref('stg_pagerduty__log_entries'),
        'jira_issues': ref('stg_jira__issues'),
    } -%}
    {%- if kind == 'availability' -%}
        {%- do inputs.update({'dimensions': ref('int_services_mapped_to_teams')}) -%}
    {%- elif kind in ('incident_response', 'incidents') -%}
        {%- do inputs.update({'dimensions': ref('int_incident_services_mapped_to_teams')}) -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("incident_mart_inputs: unknown kind '" ~ kind ~ "'") }}
    {%- endif -%}
    {{ return(inputs) }}
{%- endmacro %}


{#- The state comment of `relation` as a dict, or none when missing or unreadable. -#}
{% macro incremental_state_read(relation) -%}
    {%- set rows = run_query(table_comment_query(relation)).rows -%}
    {%- if rows | length == 0 or rows[0][0] is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set state = fromjson(rows[0][0], none) -%}
    {{ return(state if state is mapping else none) }}
{%- endmacro %}


{#-
    Checksum of the code behind the model's rows: its own SQL, the SQL of every model upstream of it, and
    the rendered text of the macros that define the figures (with a placeholder for this run's as_of: the checksum
    must not change with the run, nor read it: the staging models that use it are not built on every run).
-#}
{% macro incremental_code_md5() -%}
    {%- set parts = ['self=' ~ model.checksum.checksum] -%}
    {%- set seen = [] -%}
    {%- set ns = namespace(frontier=(model.depends_on.nodes | list)) -%}
    {%- for depth in range(20) -%}
        {%- set next_frontier = [] -%}
        {%- for node_id in ns.frontier if node_id not in seen and node_id in graph.nodes -%}
            {%- do seen.append(node_id) -%}
            {%- do parts.append(node_id ~ '=' ~ graph.nodes[node_id].checksum.checksum) -%}
            {%- do next_frontier.extend(graph.nodes[node_id].depends_on.nodes) -%}
        {%- endfor -%}
        {%- set ns.frontier = next_frontier -%}
    {%- endfor -%}
    {%- set definitions = [
        merge_downtime_intervals('intervals'),
        split_downtime_islands_to_days('islands', 'days'),
        summarize_pagerduty_log_entries('entries', 'AS_OF'),
        is_downtime_incident('urgency', 'priority'),
        is_jira_incident_type('issue_type'),
        seconds_between('a', 'b'),
        to_local_date('a'),
        local_midnight_utc('a'),
        api_timestamp('a'),
        day_spine('a', 'b'),
        incident_response_figures('d', 's', 'i'),
    ] | join('\n') -%}
    {%- do parts.append(definitions) -%}
    {{ return(local_md5(parts | sort | join('\n'))) }}
{%- endmacro %}


{#- What this build will record as its state (all values strings). -#}
{% macro incremental_state_current(inputs) -%}
    {%- set parameters = [
        reporting_tz(), downtime_urgencies(), downtime_priorities(), default_slo_target_pct(),
        jira_incident_issue_types()
    ] | join(';') -%}
    {%- set sql -%}
        select
            cast({{ epoch_us(as_of()) }} as varchar) as as_of_us,
            {{ format_date(run_date()) }} as run_date,
            (
                select cast({{ epoch_us('max(loaded_at)') }} as varchar)
                from (
                    select max(_loaded_at) as loaded_at from {{ inputs.pagerduty_incidents }}
                    union all
                    select max(_loaded_at) from {{ inputs.pagerduty_log_entries }}
                    union all
                    select max(_loaded_at) from {{ inputs.jira_issues }}
                ) as inputs
            ) as watermark_us,
            (
                select md5(coalesce(string_agg(line, chr(10) order by line), ''))
                from (select cast(to_json(dimension) as varchar) as line from {{ inputs.dimensions }} as dimension) as lines
            ) as dimensions_md5
    {%- endset -%}
    {%- set row = run_query(sql).rows[0] -%}
    {{ return({
        'version': incremental_state_version(),
        'code_md5': incremental_code_md5(),
        'parameters_md5': local_md5(parameters),
        'dimensions_md5': row[3],
        'watermark_us': row[2],
        'as_of_us': row[0],
        'run_date': row[1],
    }) }}
{%- endmacro %}


{#-
    The plan of an incremental run, given this build's state (incremental_state_current):
      {'mode': 'all'}                       recompute everything
      {'mode': 'changes', 'watermark': SQL, 'previous_as_of': SQL, ...}   recompute what changed since the
                                            previous build (watermark / previous_as_of: TIMESTAMPTZ literals)
    With day_window, 'changes' also carries from_day ('YYYY-MM-DD') and the bound of every rule.
-#}
{% macro incremental_plan(inputs, current, day_window) -%}
    {%- set previous = incremental_state_read(this) -%}
    {%- if previous is none -%}
        {{ return({'mode': 'all', 'reason': 'no incremental state on the table'}) }}
    {%- endif -%}
    {%- for key in ['version', 'code_md5', 'parameters_md5', 'dimensions_md5'] -%}
        {%- if previous.get(key) != current[key] -%}
            {{ return({'mode': 'all', 'reason': key ~ ' changed'}) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if previous.get('as_of_us') is none or previous.get('run_date') is none
          or previous.get('watermark_us') is none or current.watermark_us is none -%}
        {{ return({'mode': 'all', 'reason': 'no data at the previous build'}) }}
    {%- endif -%}
    {%- if (current.as_of_us | int) < (previous.as_of_us | int) or current.run_date < previous.run_date -%}
        {{ return({'mode': 'all', 'reason': 'as_of or run_date moved backwards'}) }}
    {%- endif -%}

    {%- set plan = {
        'mode': 'changes',
        'reason': 'changes since the last build',
        'watermark': epoch_us_to_timestamptz(previous.watermark_us),
        'previous_as_of': epoch_us_to_timestamptz(previous.as_of_us),
    } -%}
    {%- if not day_window -%}
        {{ return(plan) }}
    {%- endif -%}

    {%- set bound_names = [
        'trailing_window', 'previous_run', 'previous_as_of',
        'pagerduty_incidents', 'pagerduty_log_entries', 'jira_issues'
    ] -%}
    {%- set sql -%}
        with changed_log_entries as (

            {{ changed_pagerduty_log_entry_incidents(inputs, plan) }}

        ),

        bounds as (

            select
                {{ run_date() }} - {{ incremental_trailing_days() - 1 }} as trailing_window,
                date '{{ previous.run_date }}' + 1 as previous_run,
                {{ to_local_date(plan.previous_as_of) }} as previous_as_of,
                (
                    select min({{ to_local_date('created_at') }})
                    from {{ inputs.pagerduty_incidents }}
                    where _loaded_at > {{ plan.watermark }}
                ) as pagerduty_incidents,
                (
                    select min({{ to_local_date('created_at') }})
                    from {{ inputs.pagerduty_incidents }}
                    where incident_id in (select incident_id from changed_log_entries)
                ) as pagerduty_log_entries,
                {%- if jira_incidents_enabled() %}
                (
                    select min({{ to_local_date('created_at') }})
                    from {{ inputs.jira_issues }}
                    where _loaded_at > {{ plan.watermark }}
                ) as jira_issues
                {%- else %}
                cast(null as date) as jira_issues
                {%- endif %}

        )

        select
            {%- for name in bound_names %}
            {{ format_date(name) }} as {{ name }},
            {%- endfor %}
            {{ format_date('least(' ~ bound_names | join(', ') ~ ')') }} as from_day
        from bounds
    {%- endset -%}
    {%- set row = run_query(sql).rows[0] -%}
    {%- set bounds = {} -%}
    {%- for name in bound_names -%}
        {%- do bounds.update({name: row[loop.index0]}) -%}
    {%- endfor -%}
    {%- do plan.update({'from_day': row[bound_names | length], 'bounds': bounds}) -%}
    {{ return(plan) }}
{%- endmacro %}


{#-
    SQL: ids of the PagerDuty incidents with a state-change log entry (trigger / acknowledge / resolve)
    loaded after the plan's watermark or created after the previous as_of.
-#}
{% macro changed_pagerduty_log_entry_incidents(inputs, plan) -%}
    select distinct incident_id
    from {{ inputs.pagerduty_log_entries }}
    where log_entry_type in ('trigger_log_entry', 'acknowledge_log_entry', 'resolve_log_entry')
      and (_loaded_at > {{ plan.watermark }} or created_at > {{ plan.previous_as_of }})
{%- endmacro %}


{#-
    In the model body: plans the build (once, at compile time), logs it, and returns it. The model must
    render incremental_plan_marker(plan) into its SQL: the hooks read the plan back from the compiled
    code instead of querying again. Outside incremental runs the plan is {'mode': 'all'}.
-#}
{% macro incremental_window_for(kind, day_window=true) -%}
    {#- resolved unconditionally so that dbt records the refs at parse time -#}
    {%- set inputs = incident_mart_inputs(kind) -%}
    {%- if not execute -%}
        {{ return({'mode': 'all', 'reason': 'parse', 'inputs': inputs, 'state': {}}) }}
    {%- endif -%}
    {%- set current = incremental_state_current(inputs) -%}
    {%- if is_incremental() -%}
        {%- set plan = incremental_plan(inputs, current, day_window) -%}
    {%- else -%}
        {%- set plan = {'mode': 'all', 'reason': 'full build'} -%}
    {%- endif -%}
    {%- set recomputed = 'all' if plan.mode == 'all' else (plan.get('from_day') or 'changes') -%}
    {%- do current.update({'recomputed_from': recomputed, 'recompute_bounds': plan.get('bounds')}) -%}
    {%- do plan.update({'state': current, 'inputs': inputs}) -%}
    {%- do log(this.identifier ~ ": recomputing "
               ~ ({'all': 'everything', 'changes': 'the incidents changed since the last build'}.get(recomputed)
                  or 'days from ' ~ recomputed)
               ~ " (" ~ plan.reason ~ (": " ~ tojson(plan.bounds) if plan.get('bounds') else "") ~ ")",
               info=true) -%}
    {{ return(plan) }}
{%- endmacro %}


{#- A one-line SQL comment carrying the plan (and the state to record) from the body to the hooks. -#}
{% macro incremental_plan_marker(plan) -%}
    -- opskpi_incremental_plan: {{ tojson({'mode': plan.mode, 'from_day': plan.get('from_day'), 'state': plan.state}) }}
{%- endmacro %}


{% macro incremental_plan_from_compiled_code() -%}
    {%- set found = modules.re.search('-- opskpi_incremental_plan: ([{].*[}])', compiled_code or '') -%}
    {%- if not found -%}
        {{ exceptions.raise_compiler_error(this.identifier ~ ": no incremental_plan_marker(plan) in the compiled SQL") }}
    {%- endif -%}
    {{ return(fromjson(found.group(1))) }}
{%- endmacro %}


{#-
    Pre-hook: an incremental run that recomputes everything first empties the table; otherwise it
    deletes the rows matching `changes_delete_where` (SQL predicate, optional), which the new rows replace.
-#}
{% macro incremental_rebuild_pre_hook(changes_delete_where=none) -%}
    {%- if execute and is_incremental() -%}
        {%- if incremental_plan_from_compiled_code().mode == 'all' -%}
            delete from {{ this }}
        {%- elif changes_delete_where -%}
            delete from {{ this }} where {{ changes_delete_where }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- Post-hook: record this build's state in the table comment. -#}
{% macro incremental_state_post_hook() -%}
    {%- if execute -%}
        comment on table {{ this }} is '{{ tojson(incremental_plan_from_compiled_code().state) | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}
