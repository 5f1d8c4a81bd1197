"""The deterministic world: everything all three APIs serve, built once from (seed, start clock, scale).

Each source keeps full timelines for [start - history, start + future]; the APIs fold them at the current
clock. Entities draw from per-entity random streams (see `ids.rng`), so a later large scale can build records
lazily by index instead of materialising them all here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from emulator.gen_github import GitHubData, build_github
from emulator.gen_jira import JiraData, build_jira
from emulator.gen_links import JiraKeys
from emulator.gen_pagerduty import PagerDutyData, build_pagerduty
from emulator.scale import ShardedGitHubData
from emulator.timeline import PROFILES, SCALES, Person, Scale, Window, build_people

DEFAULT_JIRA_TIME_ZONE = "America/Los_Angeles"
DEFAULT_PAGERDUTY_TIME_ZONE = "Europe/Berlin"
DEFAULT_PROFILE = "healthy"  # timeline.PROFILES; tests that need extreme data ask for "stress" by name


@dataclass
class World:
    seed: int
    scale: Scale
    window: Window
    people: tuple[Person, ...]
    pagerduty: PagerDutyData
    jira: JiraData
    github: GitHubData


def build_world(
    seed: int,
    anchor_ms: int,
    scale: str = "demo",
    jira_time_zone: str = DEFAULT_JIRA_TIME_ZONE,
    pagerduty_time_zone: str = DEFAULT_PAGERDUTY_TIME_ZONE,
    counts: dict[str, int] | None = None,
    profile: str = DEFAULT_PROFILE,
) -> World:
    """`scale` names a preset (demo, medium, large); `counts` overrides its volumes (see Scale.with_counts);
    `profile` how the organisation behaves (timeline.PROFILES: stress, healthy).
    Bulk presets build records lazily: start-up generates skeletons only (creation times, keys, owners)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; available: {', '.join(sorted(SCALES))}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; available: {', '.join(sorted(PROFILES))}")
    spec = SCALES[scale].with_counts(counts) if counts else SCALES[scale]
    spec = dataclasses.replace(spec, profile=PROFILES[profile])
    window = Window.around(anchor_ms, spec)
    people = build_people(seed, spec.people)
    jira = build_jira(seed, window, spec, people, jira_time_zone)
    # Pull requests name Jira issues (gen_links); bulk scales build pull requests lazily, by shard.
    github: GitHubData | ShardedGitHubData = (
        ShardedGitHubData(seed, window, spec, people, JiraKeys.of(jira)) if spec.lazy
        else build_github(seed, window, spec, people, JiraKeys.of(jira)))
    return World(
        seed=seed,
        scale=spec,
        window=window,
        people=people,
        pagerduty=build_pagerduty(seed, window, spec, people, pagerduty_time_zone),
        jira=jira,
        github=github,  # type: ignore[arg-type]
    )
