-- One row per fix of a Dependabot alert GitHub did not withdraw, every fix the nightly history saw included (like
-- the posture's `fixed`): the samples of time to patch and disclosure to patch (docs/metrics.md "Patch
-- compliance"), read by mart_patch_compliance_daily per day and by the KPI snapshot per window.
--   time_to_patch_s         fixed_at - created_at (= time_to_remediate_s), clamped at 0 (is_clamped)
--   disclosure_to_patch_s   fixed_at - security_advisory.published_at, published_at clamped to created_at when later
--                           (is_advisory_after_alert); NULL without published_at (unknown)

select
    closings.alert_key,
    closings.closed_day,
    closings.closed_at,
    closings.repo,
    closings.team,
    closings.severity,
    greatest(closings.time_to_remediate_s, 0) as time_to_patch_s,
    closings.time_to_remediate_s < 0 as is_clamped,
    case when alerts.advisory_published_at is not null
        then greatest({{ seconds_between('least(alerts.advisory_published_at, alerts.created_at)',
                                         'closings.closed_at') }}, 0)
    end as disclosure_to_patch_s,
    coalesce(alerts.advisory_published_at > alerts.created_at, false) as is_advisory_after_alert
from {{ ref('int_security__closings') }} as closings
inner join {{ ref('int_security__patch_alerts') }} as alerts
    on closings.alert_key = alerts.alert_key
where closings.close_reason = 'fixed'
  and alerts.withdrawn_at is null
