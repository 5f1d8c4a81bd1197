-- The benchmark year chosen with var dora_benchmark_year must have thresholds for all four metrics.
select {{ dora_benchmark_year() }} as benchmark_year, count(distinct metric) as metrics
from {{ ref('dora_tier_thresholds') }}
where benchmark_year = {{ dora_benchmark_year() }}
having count(distinct metric) <> 4
