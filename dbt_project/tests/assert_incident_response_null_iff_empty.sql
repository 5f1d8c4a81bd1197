-- NULL statistics exactly when the sample is empty; the sample sizes match the counts they describe.
select *
from {{ ref('mart_incident_response_daily') }}
where (mtta_sample_size = 0) <> (mtta_s_mean is null)
   or (mtta_sample_size = 0) <> (mtta_s_p50 is null)
   or (mtta_sample_size = 0) <> (mtta_s_p90 is null)
   or (mttr_sample_size = 0) <> (mttr_s_mean is null)
   or (mttr_sample_size = 0) <> (mttr_s_p50 is null)
   or (mttr_sample_size = 0) <> (mttr_s_p90 is null)
   or mtta_sample_size > incidents_created
   or mttr_sample_size <> incidents_resolved
   or mtta_s_p50 > mtta_s_p90
   or mttr_s_p50 > mttr_s_p90
