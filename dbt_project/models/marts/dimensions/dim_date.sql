{{ config(materialized='table') }}
-- The calendar every `day`/`date_key` joins to: one row per day of 1970-2099 (fixed, so that no mart or fact day
-- can fall outside it and no build depends on the run date), plus the none member (-1) for no date. ISO weeks,
-- months, quarters, the fiscal year (`calendar.fiscal_year_start_month`, named after the calendar year it ends
-- in) and business days (`calendar.business_days`; public holidays are not modelled).

{%- set start_month = var('fiscal_year_start_month', 1) | int %}
{%- set business = var('business_days', ['mon', 'tue', 'wed', 'thu', 'fri']) %}
{%- set isodow = {'mon': 1, 'tue': 2, 'wed': 3, 'thu': 4, 'fri': 5, 'sat': 6, 'sun': 7} %}
{%- set business_isodow = [] %}
{%- for day in business %}{% do business_isodow.append(isodow[day | lower]) %}{% endfor %}

with days as (

    {{ day_spine(*dim_date_bounds()) }}

),

calendar as (

    select
        {{ date_key('day') }} as date_key,
        day as date,
        cast(extract(isoyear from day) as integer) as iso_year,
        cast(extract(week from day) as integer) as iso_week,
        cast(date_trunc('week', day) as date) as iso_week_start,
        cast(extract(isodow from day) as integer) as iso_day_of_week,
        {{ day_name('day') }} as day_name,
        cast(extract(month from day) as integer) as month,
        {{ month_name('day') }} as month_name,
        cast(date_trunc('month', day) as date) as month_start,
        cast(extract(quarter from day) as integer) as quarter,
        cast(extract(year from day) as integer) as year,
        -- months since the fiscal year began, 0..11
        (cast(extract(month from day) as integer) - {{ start_month }} + 12) % 12 as fiscal_month_index,
        extract(isodow from day) in ({{ business_isodow | join(', ') }}) as is_business_day
    from days

)

select
    date_key,
    date,
    iso_year,
    iso_week,
    iso_week_start,
    iso_day_of_week,
    day_name,
    month,
    month_name,
    month_start,
    quarter,
    year,
    cast(year + case when {{ start_month }} > 1 and month >= {{ start_month }} then 1 else 0 end as integer)
        as fiscal_year,
    cast({{ int_div('fiscal_month_index', '3') }} + 1 as integer) as fiscal_quarter,
    cast(fiscal_month_index + 1 as integer) as fiscal_month,
    is_business_day
from calendar
union all
select -1, null, null, null, null, null, 'unknown', null, 'unknown', null, null, null, null, null, null, null
