"""Bulk scales (`medium`, `large`, explicit `--counts`): the GitHub organisation built one repository at a time.

Every GitHub list is per repository, so at bulk scales each repository is a shard generated on first use from
its own random streams (`rng(seed, "github", "arrivals", repo)`, pull request n = repo * 10,000,000 + k) with
the same builders as the small scales (`gen_github`): its pull requests first (cheap), its deployments, releases
and workflow runs when one of those is asked for. A bounded LRU keeps memory flat; a shard built again is
identical. PagerDuty incidents and Jira issues are built per record instead (see gen_pagerduty / gen_jira).

Ids stay unique across shards: pull request ids already are (their n is); deployment, status, release and run
ids, which the builders number per call, are multiplied by 1,000 and get the repository index added, so the
repository of a deployment id is `id % 1000` (deployments from 1,000,000,000 on, to fit GraphQL's 32-bit `Int`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from emulator.gen_github import (
    _REPOS,
    GhDeployment,
    GhPull,
    GhRelease,
    GhRepo,
    GhRun,
    GitHubData,
    _build_pull,
    _pick_huge_pull,
    build_deployments,
    build_releases,
    build_runs,
    repo_kind,
)
from emulator.gen_links import JiraKeys, link_pull
from emulator.ids import rng, small_int
from emulator.timefmt import DAY, HOUR
from emulator.timeline import Person, Scale, Window, arrivals

SHARD_STRIDE = 10_000_000  # pull request n of shard r: r * SHARD_STRIDE + k
MAX_SHARD_REPOS = 1000
_PLANTED = (  # same planted cases as the small scales, in the first repository of each kind
    (-40 * DAY, "mobile", "long_open"),
    (-7 * DAY, "infra", "closed_unmerged"),
    (-3 * DAY, "api", "revert"),
    (-2 * DAY, "web", "hotfix"),
    (-20 * HOUR, "api", "merge_soon"),
    (4 * HOUR, "mobile", "future"),
)


def _repos(seed: int, window: Window, count: int) -> tuple[GhRepo, ...]:
    if count > MAX_SHARD_REPOS:
        raise ValueError(f"at most {MAX_SHARD_REPOS} repositories")
    cfg = rng(seed, "github", "config")
    return tuple(
        GhRepo(index=i, id=small_int(600_000_000, 899_999_999, seed, "repo", i),
               name=_REPOS[i % len(_REPOS)][0] + ("" if i < len(_REPOS) else f"-{i // len(_REPOS)}"),
               description=_REPOS[i % len(_REPOS)][1], language=_REPOS[i % len(_REPOS)][2],
               weight=_REPOS[i % len(_REPOS)][3], default_branch="main",
               created_ms=window.start_ms - cfg.randint(300, 2000) * DAY)
        for i in range(count)
    )


# GraphQL's `Deployment.databaseId` is a 32-bit `Int` (GitHub's schema has no BigInt id for deployments): the
# renumbered deployment ids start here so they stay below 2**31 at every scale, still `id % 1000` = repository.
DEPLOYMENT_ID_BASE = 1_000_000_000
_BUILDER_DEPLOYMENT_BASE = 1_900_000_000  # where gen_github numbers a shard's deployments from


def _renumber(item: Any, repo_index: int) -> Any:
    if isinstance(item, GhDeployment):
        new = DEPLOYMENT_ID_BASE + (item.id - _BUILDER_DEPLOYMENT_BASE) * MAX_SHARD_REPOS + repo_index
        statuses = tuple((new * 10 + (sid - item.id * 10), at, state) for sid, at, state in item.statuses)
        return dataclasses.replace(item, id=new, statuses=statuses)
    return dataclasses.replace(item, id=item.id * MAX_SHARD_REPOS + repo_index)


# The most repositories whose shards `warm` builds up front and keeps (medium: 16, 8.4 CPU s; large's 160 would
# take minutes and gigabytes, and stay lazy).
WARM_MOST_REPOS = 32


class _Lru:
    def __init__(self, size: int, build: Callable[[int], Any]) -> None:
        self._size, self._build = size, build
        self._items: OrderedDict[int, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[int, threading.Lock] = {}

    def grow(self, size: int) -> None:
        with self._lock:
            self._size = max(self._size, size)

    def get(self, key: int) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            gate = self._building.setdefault(key, threading.Lock())
        with gate:  # concurrent requests for one shard build it once
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = self._build(key)
            with self._lock:
                self._items[key] = value
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
                self._building.pop(key, None)
            return value


class ShardedGitHubData:
    """The attributes `GitHubApi` reads from `GitHubData`, served from per-repository shards."""

    def __init__(self, seed: int, window: Window, scale: Scale, people: tuple[Person, ...],
                 jira_keys: JiraKeys | None = None) -> None:
        self.seed, self.window, self.scale, self.people = seed, window, scale, people
        self.jira_keys = jira_keys
        self.org_id = small_int(10_000_000, 99_999_999, seed, "org")
        self.org_created_ms = window.start_ms - 2500 * DAY
        self.repos = _repos(seed, window, scale.gh_repos)
        self.repo_by_name = {r.name.lower(): r for r in self.repos}
        self.repo_by_id = {r.id: r for r in self.repos}
        self._total_weight = sum(r.weight for r in self.repos) or 1.0
        self._pull_shards = _Lru(32, self._build_pulls)
        self._dora_shards = _Lru(8, self._build_dora)
        self.pull_by_number = _ByRepo(lambda key: self._pulls(key[0]).pull_by_number, lambda key: key)
        self.pulls_by_repo = _ByRepo(lambda idx: self._pulls(idx).pulls_by_repo, lambda idx: idx)
        self.deployments_by_repo = _ByRepo(lambda idx: self._dora(idx).deployments_by_repo, lambda idx: idx)
        self.releases_by_repo = _ByRepo(lambda idx: self._dora(idx).releases_by_repo, lambda idx: idx)
        self.runs_by_repo = _ByRepo(lambda idx: self._dora(idx).runs_by_repo, lambda idx: idx)
        self.deployment_by_id = _ByRepo(lambda ident: self._dora(ident % MAX_SHARD_REPOS).deployment_by_id,
                                        lambda ident: ident, valid=lambda ident: 0 <= ident % MAX_SHARD_REPOS
                                        < len(self.repos) and ident >= MAX_SHARD_REPOS)

    # --- shards --------------------------------------------------------------------------------------------

    def _build_pulls(self, index: int) -> GitHubData:
        repo = self.repos[index]
        window, seed, a = self.window, self.seed, self.window.anchor_ms
        rate = self.scale.pulls_per_day * repo.weight / self._total_weight
        arr = rng(seed, "github", "arrivals", index)
        skeleton: list[tuple[int, int, str | None]] = [
            (t, k, None) for k, t in enumerate(arrivals(arr, window.start_ms, window.end_ms, rate))]
        if index < len(_REPOS):
            skeleton += [(a + offset, len(skeleton) + j, scenario)
                         for j, (offset, name, scenario) in enumerate(_PLANTED) if name == repo.name]
        skeleton.sort()
        numbering = rng(seed, "github", "numbering", index)
        number = numbering.randint(100, 2500)
        pulls: list[GhPull] = []
        for k, (at, _, scenario) in enumerate(skeleton):
            number += 1 + numbering.choice((0, 0, 0, 1, 1, 2))  # issues share the number sequence
            pull = _build_pull(seed, index * SHARD_STRIDE + k, repo, number, at, scenario, self.people, pulls, a)
            if self.jira_keys is not None:  # before anything derives from it (reverts' titles, CI runs' branches)
                pull = link_pull(seed, pull, self.jira_keys)
            pulls.append(pull)
        huge = _pick_huge_pull(window, self.repos, pulls) if repo_kind(repo) == "infra" else None
        return GitHubData(org_id=self.org_id, org_created_ms=self.org_created_ms, people=self.people,
                          repos=(repo,), pulls=tuple(pulls), seed=seed, huge_pull_n=huge)

    def _build_dora(self, index: int) -> GitHubData:
        repo, base = self.repos[index], self._pulls(index)
        seed, window, pulls = self.seed, self.window, list(base.pulls)
        deployments = build_deployments(seed, window, (repo,), pulls, self.people)
        releases = build_releases(seed, window, (repo,), deployments, self.people)
        runs = build_runs(seed, window, (repo,), pulls, self.people)
        return GitHubData(
            org_id=self.org_id, org_created_ms=self.org_created_ms, people=self.people, repos=(repo,),
            pulls=base.pulls, seed=seed, huge_pull_n=base.huge_pull_n,
            deployments=tuple(_renumber(d, index) for d in deployments),
            releases=tuple(_renumber(x, index) for x in releases),
            runs=tuple(_renumber(x, index) for x in runs),
        )

    def warm(self, most_repos: int = WARM_MOST_REPOS) -> dict[str, int]:
        """Build every repository's shards and keep them all (the caches grow to hold them), when there are at
        most `most_repos` repositories (medium: 16); a larger world stays lazy, its shards built on first use."""
        if len(self.repos) > most_repos:
            return {}
        for cache in (self._pull_shards, self._dora_shards):
            cache.grow(len(self.repos))
        for repo in self.repos:
            self._dora(repo.index)  # builds the pulls' shard too
        return {"repositories": len(self.repos)}

    def _pulls(self, index: int) -> GitHubData:
        return self._pull_shards.get(index)

    def _dora(self, index: int) -> GitHubData:
        return self._dora_shards.get(index)

    # --- what GitHubApi reads ------------------------------------------------------------------------------

    def views(self, now_ms: int, repo: GhRepo) -> list:
        return self._pulls(repo.index).views(now_ms, repo)

    def commits(self, pull: GhPull) -> tuple:
        return self._pulls(pull.repo_index).commits(pull)

    @property
    def pulls(self) -> Iterator[GhPull]:  # every shard in turn: for tests and counting, not for handlers
        for repo in self.repos:
            yield from self._pulls(repo.index).pulls

    def all_of(self, kind: str) -> Iterator[GhDeployment | GhRelease | GhRun]:
        for repo in self.repos:
            yield from getattr(self._dora(repo.index), kind)


class _ByRepo:
    """A read-only mapping whose lookups go to the shard that holds the key."""

    def __init__(self, table: Callable[[Any], Any], key: Callable[[Any], Any],
                 valid: Callable[[Any], bool] | None = None) -> None:
        self._table, self._key, self._valid = table, key, valid

    def get(self, key: Any, default: Any = None) -> Any:
        if self._valid is not None and not self._valid(key):
            return default
        try:
            return self._table(key).get(self._key(key), default)
        except IndexError:
            return default

    def __getitem__(self, key: Any) -> Any:
        return self._table(key)[self._key(key)]
