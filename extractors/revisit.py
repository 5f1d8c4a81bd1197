"""Which loaded records a stream that declares `Revisit` reads again this run: pure functions, no I/O.

Why: some changes show in no list. A new status on a GitHub deployment does not move the deployment's
`updatedAt` (GitHub documents no such thing; the strict emulator does not move it), and deployments list by
creation only, so an incremental walk that stops at its watermark never sees a status added later to an older
deployment. Reading every deployment's statuses every night would cost total / 100 queries a night for ever;
this reads, per partition:

- every record created within `recent` before the run's end (default for deployments: the longest KPI rolling
  window, 30 days, plus the lookback) that a KPI counts (`nightly`: deployments to a production environment of
  `dora.production_environments`): what can still change a figure reported today, every night;
- a rotating slice of the older ones: record r is in slice `slot(r) = crc32(id) mod sweep`, and day d reads the
  slices of the days since the last loaded revisit of the partition (`d.toordinal() mod sweep`, at most all
  `sweep` of them). Consecutive days take consecutive residues, so every record is read again within `sweep`
  days of calendar time, whatever the schedule: a skipped night is caught up by the next run, a weekly run
  reads everything, a rerun of the same day reads its own slice again;
- never what the parent stream lists again itself this run (created at or after `listed_from`), nor what is
  older than the history the guard accepts (history start - 1 year).

Cost: ceil((recent counted + others / sweep) / 100) queries a night per partition (100 ids per GraphQL `nodes` query).
Latency bound: a status added to a deployment is loaded by the first run after it if the deployment is younger
than `recent` and counted by a KPI, else within `sweep` days (plus one run) at most.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from extractors.streams import Revisit, Window


def slot(key: str, sweep: int) -> int:
    """The sweep slice of a record: stable across runs, processes and Python versions (unlike `hash`)."""
    return zlib.crc32(key.encode()) % sweep


def sweep_days(previous_end: datetime | None, end: datetime, sweep: int) -> list[date]:
    """The days whose slices a run ending at `end` reads: those after the last loaded revisit (`previous_end`) up
    to this run's own day (UTC), at most `sweep` of them (all the slices); only its own day without a previous
    revisit, or when the previous one is not earlier (a rerun or a backfill of an earlier day)."""
    today = end.date()
    if previous_end is None or previous_end.date() >= today:
        return [today]
    first = max(previous_end.date() + timedelta(days=1), today - timedelta(days=sweep - 1))
    return [first + timedelta(days=k) for k in range((today - first).days + 1)]


def select(known: Iterable[tuple[str, datetime, str | None]], revisit: Revisit, of_window: Window, end: datetime,
           previous_end: datetime | None, earliest: datetime | None = None) -> tuple[str, ...]:
    """The ids to read again, newest first: `known` are (id, created, value of the `nightly` column or None) of
    the loaded records of `revisit.of`,
    `of_window` that stream's window this run, `end` this run's end, `previous_end` the end of the partition's
    last loaded revisit (None: none yet). Records created before `earliest` are not read again: the guard would
    refuse their old children (timestamps before the history start - 1 year quarantine a batch)."""
    if revisit.sweep < 1:
        raise ValueError(f"a revisit sweep of {revisit.sweep} days: it must be at least 1")
    listed = revisit.listed_from(of_window)
    if listed is None:  # the parent lists everything it has this run: nothing to read again
        return ()
    recent_from = end - revisit.recent
    slices = {day.toordinal() % revisit.sweep for day in sweep_days(previous_end, end, revisit.sweep)}
    nightly = revisit.nightly[1] if revisit.nightly else None

    def every_night(created: datetime, value: str | None) -> bool:
        return created >= recent_from and (nightly is None or (value or "").lower() in nightly)

    chosen = [(created, key) for key, created, value in known
              if key and created < listed and (earliest is None or created >= earliest)
              and (every_night(created, value) or slot(key, revisit.sweep) in slices)]
    return tuple(key for _, key in sorted(chosen, reverse=True))
