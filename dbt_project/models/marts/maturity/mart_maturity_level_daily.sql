{{ config(tags=['every_run', 'maturity_area']) }}
-- The maturity level per day and scope (org, each team) under the selected rubric (contract §7): the highest L in
-- 1..5 such that every criterion of levels 2..L is met (mart_maturity_scorecard.is_met). Level 1 has no criteria,
-- and a level is never skipped: a failing level-3 criterion holds a scope at 2 whatever its level-4 criteria say.
--   criteria_met / criteria_total   met criteria / criteria evaluated (all levels)
--   attested_count                  criteria met by an attestation
--   blocking_criteria               the criteria of level + 1 that are not met, comma-separated (NULL at the top)

with scorecard as (

    select * from {{ ref('mart_maturity_scorecard') }}

),

levels as (

    select
        day,
        scope_type,
        scope_id,
        rubric_version,
        least(coalesce(min(level) filter (where not is_met), 6) - 1, 5) as level,
        count(*) filter (where is_met) as criteria_met,
        count(*) as criteria_total,
        count(*) filter (where status = 'attested') as attested_count
    from scorecard
    group by day, scope_type, scope_id, rubric_version

),

blocking as (

    select
        levels.day,
        levels.scope_type,
        levels.scope_id,
        string_agg(scorecard.criterion_id, ', ' order by scorecard.criterion_id) as blocking_criteria
    from levels
    inner join scorecard
        on scorecard.day = levels.day
        and scorecard.scope_type = levels.scope_type
        and scorecard.scope_id = levels.scope_id
        and scorecard.level = levels.level + 1
        and not scorecard.is_met
    group by levels.day, levels.scope_type, levels.scope_id

)

select
    levels.day,
    levels.scope_type,
    levels.scope_id,
    levels.rubric_version,
    levels.level,
    levels.criteria_met,
    levels.criteria_total,
    levels.attested_count,
    blocking.blocking_criteria,
    {{ date_key('levels.day') }} as date_key,
    {{ scope_keys('levels.scope_type', 'levels.scope_id', []) }}
from levels
left join blocking
    on blocking.day = levels.day
    and blocking.scope_type = levels.scope_type
    and blocking.scope_id = levels.scope_id
