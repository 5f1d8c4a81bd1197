"""Fix versions of a release-based Jira project (issue 22): WEB (the web platform, present on every scale) ships on a
release train, not on every deployment.

The train leaves every 14 days (a Thursday). An issue of WEB closed as Done is in the first version whose release
day is on or after the day it was closed; a version is marked released at noon (UTC) of its release day, so before
then the issue's `fixVersions` shows it unreleased. Issues of other projects, open ones and those closed Won't Do
have none. Nothing is drawn at random and no changelog entry is written, so every other record is what it was;
Jira renders a version's current state in every issue that names it, and releasing a version does not touch the
issues' `updated` (an incremental read sees the flip only when the issue changes again).

A project's versions (`GET /project/{key}/version`, emulator/jira_versions.py) are its trains from the one covering
the start of the emulated history up to the next one to leave: each train is created when the one before it is
released, so the version an issue is closed into always exists by then. Version ids are unique across the site, as
in Jira: WEB's trains are numbered from FIRST_VERSION_ID, a copy's (WEB2, ...) COPY_STRIDE further per copy.
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
COPY_STRIDE = 10000  # version ids of the numbered copies of a release project: WEB2's from 50000


@dataclass(frozen=True)
class FixVersion:
    id: str
    name: str
    release_date: date

    def released(self, now_ms: int) -> bool:
        return now_ms >= _day_start_ms(self.release_date) + RELEASED_AT_MS

    def render(self, api: str, now_ms: int) -> dict[str, object]:
        """The entry of `fields.fixVersions` as Jira Cloud REST v3 returns it (`FixVersion`)."""
        return {"self": f"{api}/version/{self.id}", "id": self.id, "description": f"Release train {self.name}",
                "name": self.name, "archived": False, "released": self.released(now_ms),
                "releaseDate": self.release_date.isoformat()}

    def render_version(self, api: str, now_ms: int, project_id: str) -> dict[str, object]:
        """The version as the project's version lists return it (`Version`): the same fields, plus the project's
        id (an integer) and the release date as the UI shows it; `overdue` only while unreleased."""
        item = {**self.render(api, now_ms), "userReleaseDate": self.release_date.strftime("%d/%b/%y"),
                "projectId": int(project_id)}
        if not item["released"]:
            item["overdue"] = now_ms >= _day_start_ms(self.release_date) + DAY
        return item


def _day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _utc_day(ms: int) -> date:
    return date(1970, 1, 1) + timedelta(days=ms // DAY)


def is_release_project(project_key: str) -> bool:
    return project_key.rstrip("0123456789") in RELEASE_PROJECTS


def _train(project_key: str, trains: int) -> FixVersion:
    copy = project_key[len(project_key.rstrip("0123456789")):]
    release = TRAIN_ORIGIN + timedelta(days=trains * TRAIN_EVERY_DAYS)
    version_id = FIRST_VERSION_ID + (int(copy) if copy else 0) * COPY_STRIDE + trains
    return FixVersion(str(version_id), release.strftime("%Y.%m.%d"), release)


def _trains_on_or_after(day: date) -> int:
    return -(-(day - TRAIN_ORIGIN).days // TRAIN_EVERY_DAYS)  # ceiling division


def train_version(closed_ms: int, project_key: str) -> FixVersion:
    """The first train of the project leaving on or after the (UTC) day an issue was closed."""
    return _train(project_key, _trains_on_or_after(_utc_day(closed_ms)))


def project_versions(project_key: str, history_start_ms: int, now_ms: int) -> list[FixVersion]:
    """The versions of a release project at the clock, in creation order (Jira's `sequence`): the train covering
    the history's start up to the last one created, which is created when the train before it is released."""
    if not is_release_project(project_key):
        return []
    first = _trains_on_or_after(_utc_day(history_start_ms))
    out = []
    trains = first
    while True:
        version = _train(project_key, trains)
        if trains > first and not _train(project_key, trains - 1).released(now_ms):
            return out
        out.append(version)
        trains += 1
