-- The rubric version chosen with var maturity_rubric_version (config maturity.rubric_version) must have rows in seed
-- maturity_rubric: a misspelt version would otherwise give every scope level 5 with no criteria.
select {{ maturity_rubric_version() }} as rubric_version
where not exists (
    select 1 from {{ ref('maturity_rubric') }} where rubric_version = {{ maturity_rubric_version() }}
)
