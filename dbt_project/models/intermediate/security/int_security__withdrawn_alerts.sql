{{ config(tags=['every_run']) }}
-- Withdrawn Dependabot alerts (docs/metrics.md "Withdrawn Dependabot alerts"): one row per alert GitHub withdrew,
-- as known at as_of. GitHub removes such an alert from every list (its URL answers 410 Gone) without moving its
-- updated_at, so the incremental walk never sees it go; two things show it:
--   * its record carries security_advisory.withdrawn_at (the advisory was withdrawn before GitHub removed the
--     alert and a walk read it then): withdrawn at that instant;
--   * it is stored as open and a complete state=open walk of its repository (an `ok` partition of a loaded batch of
--     stream dependabot_open_alerts in meta.stream_coverage: a failed or cut walk lands nothing, a repository
--     without Dependabot is `not_enabled`) ended after the alert was last listed or updated without listing it:
--     withdrawn at the end of the first such walk (the as_of of the run that first found it gone).
-- A withdrawal is for good (GitHub never lists the alert again), so a listing after as_of (a backfill of an earlier
-- day) means it was not withdrawn by then, and walks after as_of are not looked at: nothing after as_of exists.

{%- set coverage = source('meta', 'stream_coverage') %}

with alerts as (

    select
        alerts.repo,
        alerts.alert_number,
        alerts.state,
        alerts.updated_at,
        listings.listed_at,
        -- a withdrawal stamped after as_of had not happened yet as of as_of
        case when coalesce(alerts.advisory_withdrawn_at, listings.advisory_withdrawn_at) <= {{ as_of() }}
            then coalesce(alerts.advisory_withdrawn_at, listings.advisory_withdrawn_at) end as advisory_withdrawn_at
    from {{ ref('stg_github__dependabot_alerts') }} as alerts
    left join {{ ref('stg_github__dependabot_open_alerts') }} as listings
        on alerts.repo = listings.repo
        and alerts.alert_number = listings.alert_number
    where alerts.created_at < {{ as_of() }}

),

walks as (

    {%- if security_relation_exists(coverage) %}
    select distinct partition_id as repo, window_end as walked_at
    from {{ coverage }}
    where source = 'github'
      and stream = 'dependabot_open_alerts'
      and status = 'ok'
      and window_end <= {{ as_of() }}
    {%- else %}
    select cast(null as varchar) as repo, cast(null as timestamptz) as walked_at
    where false
    {%- endif %}

),

gone as (

    select alerts.repo, alerts.alert_number, min(walks.walked_at) as gone_at
    from alerts
    inner join walks
        on walks.repo = alerts.repo
        and walks.walked_at > greatest(alerts.updated_at, coalesce(alerts.listed_at, alerts.updated_at))
    where alerts.state = 'open'
    group by alerts.repo, alerts.alert_number

)

select
    'dependabot:' || alerts.repo || '#' || alerts.alert_number as alert_key,
    alerts.repo,
    alerts.alert_number,
    coalesce(alerts.advisory_withdrawn_at, gone.gone_at) as withdrawn_at,
    case when alerts.advisory_withdrawn_at is not null then 'advisory_withdrawn_at' else 'open_walk' end as detected_by
from alerts
left join gone
    on alerts.repo = gone.repo
    and alerts.alert_number = gone.alert_number
where coalesce(alerts.advisory_withdrawn_at, gone.gone_at) is not null
