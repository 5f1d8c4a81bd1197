-- A table, not a view: the posture mart reads it once per scope (repo, team, org) and tests read it too.
{{ config(materialized='table') }}

-- One row per security alert and day of int_security__days on which it was open at the day's eval_at.
-- Open = created before eval_at and not closed by then, reconstructed from today's timestamps, except where the
-- nightly history (int_security__alert_state_history) knows better (what the API said then wins):
--   * the history has the alert on that very date: its answer;
--   * else the latest earlier snapshot, when the alert changed after the day (updated_at > eval_at): today's
--     timestamps describe a later state (e.g. dismissed then, reopened since, which clears dismissed_at), so the
--     last state seen before the day is carried forward;
--   * else (no snapshot, or no change since the day) the reconstruction, which also knows the closings the
--     nightly history saw (int_security__closings): a Dependabot alert open now whose latest such closing lies
--     before its updated_at (the reopen, e.g. a fixed alert GitHub reintroduced) was closed from that closing until
--     then. Dependabot only: its updated_at is when the state last changed; a code scanning alert's moves on other
--     updates too (a new instance), which would stretch the gap past the reopen.
--   * a withdrawn Dependabot alert is not open from its withdrawn_at on (at eval_at = withdrawn_at it is already
--     gone: the walk that found it gone ran at that instant), whatever a snapshot said before the withdrawal was
--     known (docs/metrics.md "Withdrawn Dependabot alerts").
-- in_breach: open and older than its SLA (eval_at > sla_due_at; exactly at the boundary is not yet a breach).

with alerts as (

    select
        *,
        -- the last instant the alert can be open on a day's eval_at: never closed, or closed (by today's
        -- timestamps) but changed after the day, when a snapshot may carry an earlier open state forward
        case
            when closed_at is null then cast('9999-12-31 00:00:00+00' as timestamptz)
            else greatest(closed_at, coalesce(updated_at, closed_at))
        end as candidate_until
    from {{ ref('fct_security_alerts') }}

),

-- an alert open now that the history saw closed before its last change: closed from that closing until the change
reopen_gaps as (

    select alerts.alert_key, max(closings.closed_at) as gap_from, alerts.updated_at as gap_until
    from alerts
    inner join {{ ref('int_security__closings') }} as closings
        on closings.alert_key = alerts.alert_key
        and closings.closed_at < alerts.updated_at
    where alerts.closed_at is null
      and alerts.tool = 'dependabot'
    group by alerts.alert_key, alerts.updated_at

),

open_snapshots as (

    select distinct alert_key, snapshot_date as day
    from {{ ref('int_security__alert_state_history') }}
    where is_open

),

-- Only the (day, alert) pairs that can be open: a range join bounded by candidate_until (what is open, not
-- every alert x every later day), plus the days a nightly snapshot saw the alert open. Any other pair is
-- closed by the rules below, so leaving it out changes nothing.
candidates as (

    select days.day, alerts.alert_key
    from {{ ref('int_security__days') }} as days
    inner join alerts
        on {{ security_happened_by('alerts.created_at', 'days.eval_at') }}
        and days.eval_at <= alerts.candidate_until

    union

    select open_snapshots.day, open_snapshots.alert_key
    from open_snapshots

),

pairs as (

    select
        days.day,
        days.eval_at,
        alerts.alert_key,
        alerts.repo,
        alerts.team,
        alerts.tool,
        alerts.severity,
        alerts.created_at,
        alerts.sla_due_at,
        alerts.updated_at,
        alerts.withdrawn_at,
        -- (an instant exactly at eval_at: macros/security.sql security_day_end)
        (alerts.closed_at is null or not {{ security_happened_by('alerts.closed_at', 'days.eval_at') }})
            and not coalesce({{ security_happened_by('gaps.gap_from', 'days.eval_at') }}
                             and not {{ security_happened_by('gaps.gap_until', 'days.eval_at') }}, false)
            as reconstructed_open
    from candidates
    inner join {{ ref('int_security__days') }} as days
        on candidates.day = days.day
    inner join alerts
        on candidates.alert_key = alerts.alert_key
        and {{ security_happened_by('alerts.created_at', 'days.eval_at') }}
    left join reopen_gaps as gaps
        on candidates.alert_key = gaps.alert_key

),

-- each nightly snapshot of an alert holds from its date until the alert's next snapshot: the latest snapshot at or
-- before a day is the one whose interval contains it (an equality join on the alert, not an ASOF join, which
-- took 20x longer here and is not portable)
snapshot_intervals as (

    select
        alert_key,
        snapshot_date,
        is_open,
        -- no OR in the join below, so it stays a hash join on alert_key
        coalesce(lead(snapshot_date) over (partition by alert_key order by snapshot_date), date '9999-12-31')
            as next_snapshot_date
    from {{ ref('int_security__alert_state_history') }}

),

snapshotted as (

    select
        pairs.*,
        case
            when history.snapshot_date = pairs.day then history.is_open
            when history.snapshot_date is not null and pairs.updated_at > pairs.eval_at then history.is_open
        end as snapshot_open
    from pairs
    left join snapshot_intervals as history
        on history.alert_key = pairs.alert_key
        and pairs.day >= history.snapshot_date
        and pairs.day < history.next_snapshot_date

),

judged as (

    select
        *,
        coalesce(snapshot_open, reconstructed_open)
            and coalesce(withdrawn_at > eval_at, true) as is_open
    from snapshotted

)

select
    day,
    alert_key,
    repo,
    team,
    tool,
    severity,
    created_at,
    sla_due_at,
    snapshot_open is not null as from_snapshot,
    coalesce(eval_at > sla_due_at, false) as in_breach,
    {{ seconds_between('created_at', 'eval_at') }} / 86400.0 as age_days
from judged
where is_open
