-- An open incident has no TTR (never 0), a resolved one always has one; resolved_at is never after as_of.
select incident_id, is_open, resolved_at, ttr_s
from {{ ref('fct_incidents') }}
where is_open <> (ttr_s is null)
   or is_open <> (resolved_at is null)
   or resolved_at > {{ as_of() }}
   or acknowledged_at > {{ as_of() }}
   or created_at > {{ as_of() }}
