"""Deterministic GitHub organisation: repositories and pull requests with their activity timelines.

A pull request is its creation, a list of "touches" (pushes, reviews, comments; each moves `updated_at`) and
an optional close (merged or not). The state at the clock is folded from those, so a PR merged after the clock
is shown open, and merging moves `updated_at`, exactly what an incremental `sort=updated` extractor must
handle."""

from __future__ import annotations

import random
from dataclasses import dataclass

from emulator.ids import node_id, rng, sha, small_int
from emulator.timefmt import DAY, HOUR, MINUTE, SECOND
from emulator.timeline import Person, Scale, ViewCache, Window, arrivals, pick_duration, weighted

ORG_LOGIN = "acme"

_REPOS = (
    ("api", "Public REST API and webhooks", "Python", 0.40),
    ("web", "Customer web app", "TypeScript", 0.30),
    ("infra", "Terraform modules and Kubernetes manifests", "HCL", 0.15),
    ("mobile", "iOS and Android apps", "Kotlin", 0.15),
)

LABELS = {  # name -> (color, description, default)
    "bug": ("d73a4a", "Something isn't working", True),
    "enhancement": ("a2eeef", "New feature or request", True),
    "documentation": ("0075ca", "Improvements or additions to documentation", True),
    "dependencies": ("0366d6", "Pull requests that update a dependency file", False),
    "hotfix": ("b60205", "Emergency fix shipped outside the release train", False),
    "needs-review": ("fbca04", "Waiting for a second reviewer", False),
}

_FEATURE_TITLES = (
    "Add retry with jitter to webhook delivery",
    "Cache exchange rates for 5 minutes",
    "Paginate /v2/orders with cursors",
    "Support idempotency keys on refunds",
    "Migrate CI to reusable workflows",
    "Add p99 latency panel to the checkout dashboard",
    "Unterstützung für SEPA-Lastschrift",
    "Handle “smart quotes” in search queries",
    "Emoji in display names 🎉 no longer break CSV exports",
    "Render <b>bold</b> & <i>italic</i> in release notes safely",
)
_FIX_TITLES = (
    "Fix race in session refresh",
    "Fix flaky test_checkout_timeout",
    "Fix N+1 query on the invoices page",
    "Fix timezone bug in the daily report (DST)",
    "Fix crash when a webhook payload has no 'id'",
)
_BUMPS = (
    ("requests", "2.31.0", "2.32.3"),
    ("urllib3", "2.2.1", "2.2.3"),
    ("eslint", "8.57.0", "9.12.0"),
    ("terraform-provider-aws", "5.70.0", "5.74.0"),
    ("kotlinx-coroutines", "1.8.1", "1.9.0"),
)

DEPENDABOT = Person(
    index=-1,
    name="dependabot[bot]",
    email="",
    login="dependabot[bot]",
    github_id=49699333,
    jira_account_id="",
    pagerduty_id="",
    time_zone="UTC",
)


@dataclass(frozen=True)
class GhRepo:
    index: int
    id: int
    name: str
    description: str
    language: str
    weight: float
    default_branch: str
    created_ms: int

    @property
    def full_name(self) -> str:
        return f"{ORG_LOGIN}/{self.name}"


@dataclass(frozen=True)
class GhPull:
    n: int
    repo_index: int
    number: int
    id: int
    node_id: str
    title: str
    body: str | None
    author: Person
    labels: tuple[str, ...]
    base_ref: str
    head_ref: str
    head_repo_deleted: bool
    draft_until_ms: int | None  # draft until this moment (None: never a draft)
    created_ms: int
    touches: tuple[tuple[int, str], ...]  # (time, push|review|comment), sorted
    close_ms: int | None
    merged: bool
    merge_method: str
    merged_by: Person | None
    reviewers: tuple[Person, ...]
    comments: int
    review_comments: int
    additions: int
    deletions: int
    changed_files: int
    scenario: str | None = None


@dataclass(frozen=True)
class GhPullState:
    state: str
    updated_ms: int
    closed_ms: int | None
    merged_ms: int | None
    draft: bool
    pushes: int
    comments: int

    @property
    def merged(self) -> bool:
        return self.merged_ms is not None


def pull_state(pull: GhPull, now_ms: int) -> GhPullState | None:
    if pull.created_ms > now_ms:
        return None
    updated = pull.created_ms
    pushes = comments = 0
    for at, kind in pull.touches:
        if at > now_ms:
            break
        updated = max(updated, at)
        pushes += kind == "push"
        comments += kind == "comment"
    closed = pull.close_ms if pull.close_ms is not None and pull.close_ms <= now_ms else None
    if closed is not None:
        updated = max(updated, closed)
    draft = pull.draft_until_ms is not None and now_ms < pull.draft_until_ms
    return GhPullState(
        state="closed" if closed is not None else "open",
        updated_ms=updated,
        closed_ms=closed,
        merged_ms=closed if closed is not None and pull.merged else None,
        draft=draft,
        pushes=pushes,
        comments=comments,
    )


def head_sha(seed: int, pull: GhPull, state: GhPullState) -> str:
    return sha(seed, "pr-head", pull.n, state.pushes)


def merge_commit_sha(seed: int, pull: GhPull, state: GhPullState) -> str:
    if state.merged:
        return sha(seed, "pr-merge", pull.n)
    return sha(seed, "pr-test-merge", pull.n, state.pushes)


@dataclass
class GitHubData:
    org_id: int
    org_created_ms: int
    people: tuple[Person, ...]
    repos: tuple[GhRepo, ...]
    pulls: tuple[GhPull, ...]

    def __post_init__(self) -> None:
        self.repo_by_name = {r.name.lower(): r for r in self.repos}
        self.repo_by_id = {r.id: r for r in self.repos}
        self.pulls_by_repo: dict[int, list[GhPull]] = {r.index: [] for r in self.repos}
        for p in self.pulls:
            self.pulls_by_repo[p.repo_index].append(p)
        self.pull_by_number = {(p.repo_index, p.number): p for p in self.pulls}
        self._views = ViewCache(self._compute_views)

    def _compute_views(self, now_ms: int) -> dict[int, list[tuple[GhPull, GhPullState]]]:
        out: dict[int, list[tuple[GhPull, GhPullState]]] = {r.index: [] for r in self.repos}
        for pull in self.pulls:
            state = pull_state(pull, now_ms)
            if state is not None:
                out[pull.repo_index].append((pull, state))
        return out

    def views(self, now_ms: int, repo: GhRepo) -> list[tuple[GhPull, GhPullState]]:
        """The repo's pull requests that exist at now_ms, in creation order."""
        return self._views.get(now_ms)[repo.index]


def _title(r: random.Random, kind: str) -> str:
    if kind == "fix":
        return r.choice(_FIX_TITLES)
    if kind == "bump":
        name, old, new = r.choice(_BUMPS)
        return f"Bump {name} from {old} to {new}"
    return r.choice(_FEATURE_TITLES)


def _build_pull(
    seed: int,
    n: int,
    repo: GhRepo,
    number: int,
    created: int,
    scenario: str | None,
    people: tuple[Person, ...],
    previous: list[GhPull],
    anchor: int,
) -> GhPull:
    r = rng(seed, "pull", n)
    kind = weighted(
        r,
        [
            (0.55, "feature"),
            (0.25, "fix"),
            (0.08, "bump"),
            (0.06, "hotfix"),
            (0.04, "revert"),
            (0.02, "docs"),
        ],
    )
    if scenario in ("hotfix", "revert"):
        kind = scenario
    if kind == "revert" and not previous:
        kind = "fix"
    author = DEPENDABOT if kind == "bump" else people[r.randrange(len(people))]
    labels: tuple[str, ...] = ()
    body: str | None = r.choice(
        (
            None,
            "",
            "Closes #{0}.",
            "Part of the Q4 reliability work.\n\n- [x] tests",
            "Fixes a regression from #{0} — see the incident notes.",
        )
    )
    if kind == "hotfix":
        title = "Hotfix: " + r.choice(_FIX_TITLES)
        labels = ("hotfix",)
    elif kind == "revert":
        target = previous[-r.randint(1, min(8, len(previous)))] if scenario is None else previous[-1]
        title = f'Revert "{target.title}"'
        body = f"Reverts {repo.full_name}#{target.number}"
    elif kind == "bump":
        title, labels = _title(r, "bump"), ("dependencies",)
        body = "Bumps the dependency. Dependabot will resolve any conflicts with this PR."
    elif kind == "docs":
        title, labels = "Docs: update the on-call runbook", ("documentation",)
    else:
        title = _title(r, kind)
        labels = tuple(
            sorted(
                {"bug" if kind == "fix" else "enhancement"}
                | ({"needs-review"} if r.random() < 0.1 else set())
            )
        )
    if body and "{0}" in body:
        body = body.format(max(1, number - r.randint(1, 40)))

    outcome = weighted(r, [(0.74, "merged"), (0.12, "closed"), (0.06, "open"), (0.08, "slow")])
    if kind in ("hotfix", "revert"):
        life = pick_duration(r, [(1.0, 10 * MINUTE, 90 * MINUTE)])
        outcome = "merged"
    elif outcome == "slow":
        life, outcome = pick_duration(r, [(1.0, 8 * DAY, 40 * DAY)]), "merged"
    else:
        life = pick_duration(
            r, [(0.4, 30 * MINUTE, 6 * HOUR), (0.35, 6 * HOUR, 2 * DAY), (0.25, 2 * DAY, 7 * DAY)]
        )
    close: int | None = created + life // SECOND * SECOND
    if outcome == "open":
        close = None
    planted = {
        "merge_soon": (anchor + 6 * HOUR, "merged"),
        "revert": (created + 40 * MINUTE, "merged"),
        "hotfix": (created + 50 * MINUTE, "merged"),
        "closed_unmerged": (anchor - 5 * DAY, "closed"),
        "long_open": (None, "open"),
    }
    if scenario in planted:
        close, outcome = planted[scenario]
    merged = outcome == "merged"

    touches = []
    end = close if close is not None else max(created + 30 * DAY, anchor + 10 * DAY)
    for _ in range(r.choice((0, 1, 1, 2, 3, 4))):
        touches.append(
            (
                r.randint(created // SECOND + 60, max(created // SECOND + 61, end // SECOND - 30)) * SECOND,
                weighted(r, [(0.5, "push"), (0.3, "review"), (0.2, "comment")]),
            )
        )
    if scenario == "long_open":
        touches.append((anchor - 2 * DAY, "push"))
    if close is not None and r.random() < 0.15:  # late comment: updated_at moves past closed_at
        touches.append((close + pick_duration(r, [(1.0, HOUR, 5 * DAY)]) // SECOND * SECOND, "comment"))
    touches.sort()
    draft_until = None
    if r.random() < 0.08 and kind not in ("hotfix", "revert", "bump"):
        draft_until = created + (close - created) // 2 if close is not None else created + 3 * DAY
    reviewers = tuple(people[i] for i in sorted(r.sample(range(len(people)), r.choice((0, 1, 1, 2)))))
    additions = int(pick_duration(r, [(0.6, 1, 80), (0.3, 80, 600), (0.1, 600, 4000)]))
    return GhPull(
        n=n,
        repo_index=repo.index,
        number=number,
        id=1_800_000_000 + n * 17 + repo.index,
        node_id=node_id("PR", seed, "pull", n),
        title=title,
        body=body,
        author=author,
        labels=labels,
        base_ref=repo.default_branch if r.random() < 0.95 else "release/2026.10",
        head_ref=f"{author.login.split('[')[0]}/{kind}-{number}",
        head_repo_deleted=r.random() < 0.01,
        draft_until_ms=draft_until,
        created_ms=created,
        touches=tuple(touches),
        close_ms=close,
        merged=merged,
        merge_method=weighted(r, [(0.5, "squash"), (0.35, "merge"), (0.15, "rebase")]),
        merged_by=people[r.randrange(len(people))] if merged else None,
        reviewers=reviewers,
        comments=r.choice((0, 0, 1, 2, 3, 5, 8)),
        review_comments=r.choice((0, 0, 1, 2, 4, 9)),
        additions=additions,
        deletions=int(additions * r.uniform(0.05, 0.9)),
        changed_files=max(1, additions // r.randint(15, 60)),
        scenario=scenario,
    )


def build_github(seed: int, window: Window, scale: Scale, people: tuple[Person, ...]) -> GitHubData:
    cfg = rng(seed, "github", "config")
    repos = tuple(
        GhRepo(
            index=i,
            id=small_int(600_000_000, 899_999_999, seed, "repo", i),
            name=_REPOS[i % len(_REPOS)][0] + ("" if i < len(_REPOS) else f"-{i // len(_REPOS)}"),
            description=_REPOS[i % len(_REPOS)][1],
            language=_REPOS[i % len(_REPOS)][2],
            weight=_REPOS[i % len(_REPOS)][3],
            default_branch="main",
            created_ms=window.start_ms - cfg.randint(300, 2000) * DAY,
        )
        for i in range(scale.gh_repos)
    )
    arr = rng(seed, "github", "arrivals")
    skeleton: list[tuple[int, int, GhRepo, str | None]] = []
    for t in arrivals(arr, window.start_ms, window.end_ms, scale.pulls_per_day):
        skeleton.append((t, len(skeleton), weighted(arr, [(r.weight, r) for r in repos]), None))
    a = window.anchor_ms
    by_name = {r.name: r for r in repos}
    first = repos[0]
    for offset, name, scenario in (
        (-40 * DAY, "mobile", "long_open"),
        (-7 * DAY, "infra", "closed_unmerged"),
        (-3 * DAY, "api", "revert"),
        (-2 * DAY, "web", "hotfix"),
        (-20 * HOUR, "api", "merge_soon"),
        (4 * HOUR, "mobile", "future"),
    ):
        skeleton.append((a + offset, len(skeleton), by_name.get(name, first), scenario))
    skeleton.sort(key=lambda s: (s[0], s[1]))

    numbering = rng(seed, "github", "numbering")
    numbers = {r.index: numbering.randint(100, 2500) for r in repos}
    previous: dict[int, list[GhPull]] = {r.index: [] for r in repos}
    pulls = []
    for n, (at, _, repo, scenario) in enumerate(skeleton):
        numbers[repo.index] += 1 + numbering.choice((0, 0, 0, 1, 1, 2))  # issues share the number sequence
        pull = _build_pull(seed, n, repo, numbers[repo.index], at, scenario, people, previous[repo.index], a)
        previous[repo.index].append(pull)
        pulls.append(pull)
    return GitHubData(
        org_id=small_int(10_000_000, 99_999_999, seed, "org"),
        org_created_ms=window.start_ms - 2500 * DAY,
        people=people,
        repos=repos,
        pulls=tuple(pulls),
    )
