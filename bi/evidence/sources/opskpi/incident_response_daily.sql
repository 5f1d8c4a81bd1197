select r.day, r.scope_type, r.scope_id,
       coalesce(s.scope_name, r.scope_id) as scope_name,
       r.incidents_created, r.incidents_resolved, r.open_at_end_of_day,
       r.mtta_s_mean, r.mtta_s_p50, r.mtta_s_p90, r.mtta_sample_size,
       r.mttr_s_mean, r.mttr_s_p50, r.mttr_s_p90, r.mttr_sample_size
from marts.mart_incident_response_daily r
left join marts.dim_kpi_scopes s on s.scope_type = r.scope_type and s.scope_id = r.scope_id
