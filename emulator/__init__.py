"""Jira Cloud / PagerDuty / GitHub REST API emulator for opskpi's tests, demo and benchmarks.

Deterministic data from a seed and an emulated clock; see `emulator.server.start_emulator` and
`python -m emulator --help`. Imports nothing from opskpi, extractors or expectations.
"""
