{{ config(tags=["every_run"]) }}
-- One row per security alert (Dependabot, code scanning, secret scanning) created up to as_of, as it stood at as_of
-- (definitions: docs/metrics.md "Security posture"): a closing after as_of has not happened yet, so a backfill of a
-- past day shows the alert open, as the run on that day did. updated_at is the API's newest (not replayable).
--   severity      Dependabot security_advisory.severity; code scanning rule.security_severity_level, else
--                 rule.severity error -> high, warning -> medium, note -> low; secret scanning critical.
--                 A value outside critical/high/medium/low is kept as sent (severity_known = false) and fails
--                 the test assert_security_alert_severity_known, which names the alert: never dropped.
--   close_reason  fixed | dismissed | auto_dismissed (Dependabot, code scanning); secret scanning: resolved
--                 (resolution `revoked`: remediated) or dismissed (any other resolution); withdrawn: a Dependabot
--                 alert stored as open that GitHub withdrew (int_security__withdrawn_alerts), closed at
--                 withdrawn_at. NULL while open: an open (e.g. reopened) alert has no closing time, whatever stale
--                 timestamp it carries.
--   withdrawn_at  Dependabot: when GitHub withdrew the alert (its advisory's withdrawn_at, else the as_of of the run
--                 whose complete open walk first missed it), whatever its state; NULL for every other alert.
--   time_to_remediate_s  closed_at - created_at for fixed and resolved alerts only (dismissals are not remediation).
--   sla_days, sla_due_at  from var security_sla_days; due = created_at + sla_days x 86400 s.

with sla as (

    select * from ({{ security_sla_days_values() }}) as sla(severity, sla_days)

),

dependabot as (

    select
        'dependabot' as tool,
        repo,
        alert_number,
        state,
        severity_raw,
        severity_raw as severity_mapped,
        created_at,
        updated_at,
        case state
            when 'fixed' then 'fixed'
            when 'dismissed' then 'dismissed'
            when 'auto_dismissed' then 'auto_dismissed'
            when 'open' then (case when withdrawn.withdrawn_at is not null then 'withdrawn' end)
        end as close_reason,
        case state
            when 'fixed' then coalesce(fixed_at, updated_at)
            when 'dismissed' then coalesce(dismissed_at, updated_at)
            when 'auto_dismissed' then coalesce(auto_dismissed_at, updated_at)
            when 'open' then withdrawn.withdrawn_at
        end as closed_at,
        package_name as subject,
        html_url,
        withdrawn.withdrawn_at
    from {{ ref('stg_github__dependabot_alerts') }} as dependabot
    left join {{ ref('int_security__withdrawn_alerts') }} as withdrawn
        using (repo, alert_number)

),

code_scanning as (

    select
        'code_scanning' as tool,
        repo,
        alert_number,
        state,
        coalesce(security_severity_level, rule_severity) as severity_raw,
        coalesce(
            security_severity_level,
            case rule_severity when 'error' then 'high' when 'warning' then 'medium' when 'note' then 'low' end
        ) as severity_mapped,
        created_at,
        updated_at,
        case state when 'fixed' then 'fixed' when 'dismissed' then 'dismissed' end as close_reason,
        case state
            when 'fixed' then coalesce(fixed_at, updated_at)
            when 'dismissed' then coalesce(dismissed_at, updated_at)
        end as closed_at,
        rule_id as subject,
        html_url,
        cast(null as timestamptz) as withdrawn_at
    from {{ ref('stg_github__code_scanning_alerts') }}

),

secret_scanning as (

    select
        'secret_scanning' as tool,
        repo,
        alert_number,
        state,
        'critical' as severity_raw,
        'critical' as severity_mapped,
        created_at,
        updated_at,
        case when state = 'resolved' then (case when resolution = 'revoked' then 'resolved' else 'dismissed' end)
        end as close_reason,
        case when state = 'resolved' then coalesce(resolved_at, updated_at) end as closed_at,
        secret_type as subject,
        html_url,
        cast(null as timestamptz) as withdrawn_at
    from {{ ref('stg_github__secret_scanning_alerts') }}

),

alerts as (

    select * from dependabot
    union all
    select * from code_scanning
    union all
    select * from secret_scanning

),

as_of_clipped as (

    select
        tool,
        repo,
        alert_number,
        case when closed_at <= {{ as_of() }} then state else 'open' end as state,
        severity_raw,
        severity_mapped,
        created_at,
        updated_at,
        case when closed_at <= {{ as_of() }} then close_reason end as close_reason,
        case when closed_at <= {{ as_of() }} then closed_at end as closed_at,
        subject,
        html_url,
        withdrawn_at
    from alerts
    where created_at <= {{ as_of() }}

)

select
    alerts.tool || ':' || alerts.repo || '#' || alerts.alert_number as alert_key,
    alerts.repo,
    coalesce(repos.team, 'unassigned') as team,
    alerts.tool,
    alerts.alert_number,
    coalesce(alerts.severity_mapped, alerts.severity_raw, 'unknown') as severity,
    alerts.severity_raw,
    sla.severity is not null as severity_known,
    alerts.state,
    alerts.created_at,
    alerts.updated_at,
    alerts.closed_at,
    alerts.close_reason,
    coalesce(alerts.close_reason in ('fixed', 'resolved'), false) as is_remediated,
    case when alerts.close_reason in ('fixed', 'resolved')
        then {{ seconds_between('alerts.created_at', 'alerts.closed_at') }} end as time_to_remediate_s,
    sla.sla_days,
    alerts.created_at + {{ seconds_interval('sla.sla_days * 86400') }} as sla_due_at,
    alerts.subject,
    alerts.html_url,
    alerts.withdrawn_at,
    {{ date_key(to_local_date('alerts.created_at')) }} as date_key,
    {{ dim_key('repository', 'alerts.repo') }} as repository_key,
    {{ dim_key('team', "coalesce(repos.team, 'unassigned')") }} as team_key
from as_of_clipped as alerts
left join {{ ref('stg_config__repos') }} as repos
    on alerts.repo = repos.repo
left join sla
    on coalesce(alerts.severity_mapped, alerts.severity_raw) = sla.severity
