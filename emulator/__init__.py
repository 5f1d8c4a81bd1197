"""Jira Cloud / PagerDuty / GitHub REST API emulator for opskpi's tests, demo and benchmarks.

Deterministic data from a seed and an emulated clock; see `emulator.server.start_emulator` and
`python -m emulator --help`. Imports nothing from opskpi, extractors or expectations.

Volumes come from a scale (`--scale demo|medium|large`, `--counts`); how the organisation behaves comes
from a profile (`--profile`, `timeline.PROFILES`), parameters of the generators:

- `stress` (what most tests ask for by name): every planted edge case (incidents open at
  the clock, reopened, overlapping, spanning midnight, one open for 21 days), about 1.9 pages a day over
  five services with a long tail of multi-hour and multi-day resolutions (organisation availability about
  97 %, most services past their SLO), and many security alerts left open for good (about 40 % of the open
  ones within SLA).
- `healthy` (the default: `make demo`, the compose demo, `python -m emulator`): a healthy mid-size
  organisation. About 0.8 pages a day, half of them on checkout-api, the one service in trouble (about 16
  incidents in 30 days, ~99.8 % availability, its budget overspent); the other services see a few incidents a
  month (one to seven), mostly low urgency and resolved within the hour (99.95-100 %); organisation
  availability about 99.7 %. No planted incidents. Security alerts arrive at 45 % of the stress rate, are
  fixed in 40 % of the time, and 2 % are never closed: a handful are past their SLA. GitHub activity is the
  same in both profiles; its DORA tiers come out mixed (from Elite to Low).

A test that needs extreme data asks for it by name (`start_emulator(profile="stress")`, `--profile stress`,
or its counts); one that only needs a working organisation takes the default.
"""
