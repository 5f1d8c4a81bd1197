-- A service cannot be down for longer than the day lasts (would mean an interval union bug).
select day, service_id, downtime_s, day_length_s
from {{ ref('mart_availability_daily') }}
where downtime_s > day_length_s
