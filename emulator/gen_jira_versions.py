"""Fix versions of a release-based Jira project (issue 22): WEB (the web platform, present on every scale) ships on a
release train, not on every deployment.

The train leaves every 14 days (a Thursday). An issue of WEB closed as Done is in the first version whose release
day is on or after the day it was closed; a version is marked released at noon (UTC) of its release day, so before
then the issue's `fixVersions` shows it unreleased. Issues of other projects, open ones and those closed Won't Do
have none. Nothing is drawn at random and no changelog entry is written, so every other record is what it was;
Jira renders a version's current state in every issue that names it, and releasing a version does not touch the
issues' `updated` (an incremental read sees the flip only when the issue changes again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from emulator.timefmt import DAY, HOUR

RELEASE_PROJECTS = frozenset({"WEB"})  # project keys (and their numbered copies on larger scales: WEB2, ...)
TRAIN_ORIGIN = date(2026, 1, 1)  # a Thursday
TRAIN_EVERY_DAYS = 14
RELEASED_AT_MS = 12 * HOUR  # after the start of the release day (UTC)
FIRST_VERSION_ID = 30000


@dataclass(frozen=True)
class FixVersion:
    id: str
    name: str
    release_date: date

    def released(self, now_ms: int) -> bool:
        start = datetime(self.release_date.year, self.release_date.month, self.release_date.day, tzinfo=UTC)
        return now_ms >= int(start.timestamp() * 1000) + RELEASED_AT_MS

    def render(self, api: str, now_ms: int) -> dict[str, object]:
        """The entry of `fields.fixVersions` as Jira Cloud REST v3 returns it (`FixVersion`)."""
        return {"self": f"{api}/version/{self.id}", "id": self.id, "description": f"Release train {self.name}",
                "name": self.name, "archived": False, "released": self.released(now_ms),
                "releaseDate": self.release_date.isoformat()}


def is_release_project(project_key: str) -> bool:
    return project_key.rstrip("0123456789") in RELEASE_PROJECTS


def train_version(closed_ms: int) -> FixVersion:
    """The first train leaving on or after the (UTC) day an issue was closed."""
    closed_day = date(1970, 1, 1) + timedelta(days=closed_ms // DAY)
    trains = -(-(closed_day - TRAIN_ORIGIN).days // TRAIN_EVERY_DAYS)  # ceiling division
    release = TRAIN_ORIGIN + timedelta(days=trains * TRAIN_EVERY_DAYS)
    return FixVersion(str(FIRST_VERSION_ID + trains), release.strftime("%Y.%m.%d"), release)
