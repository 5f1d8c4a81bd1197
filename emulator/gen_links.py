"""Jira keys in GitHub pull requests, written the way teams write them (issue 22, end-to-end lead time).

A feature, fix or docs pull request names the Jira issue it works on: the key at the start of the title
(`OPS-12 Add ...`), in brackets (`[OPS-12] ...`, sometimes two: `[OPS-12][OPS-13] ...`), only in the branch name
and in lower case (`mia/ops-12-feature-431`), or only in the first commit's message; about a quarter name none.
Dependabot bumps, hotfixes and reverts are left as they are (a revert repeats its target's title, keys and all).

The issue is one that existed and was not done when the pull request was opened, created at most two weeks before
it; the key is the one it had then, so a pull request opened before its issue moved to another project names the
former key, as real ones do. Each pull request draws from its own stream (`rng(seed, "pull-jira-link", n)`):
every other record, and every pull request left without a key, is what it was before keys were written.

Bulk scales build pull requests lazily, shard by shard, and Jira issues lazily too: building an issue to learn its
state at the pull request's opening cost 1.5 ms a pull request (three times the pull request itself), so there the
draw reads the skeleton only (created, not deleted, its key at that moment) and may name an issue already done: a
follow-up, which the end-to-end lead time counts in `late_links` or ignores, as real data has them. Either way the
draw depends on nothing but the seed, never on which issues happen to be cached.
"""

from __future__ import annotations

import dataclasses
import random
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emulator.gen_jira import issue_state
from emulator.ids import rng
from emulator.timefmt import DAY
from emulator.timeline import weighted

if TYPE_CHECKING:
    from emulator.gen_github import GhPull
    from emulator.gen_jira import JiraData

LINKED_KINDS = frozenset({"feature", "fix", "docs"})
STYLES = ((0.25, "none"), (0.35, "title"), (0.10, "brackets"), (0.05, "two_brackets"), (0.15, "branch"),
          (0.10, "commit"))
LOOKBACK_MS = 14 * DAY
TRIES = 6  # draws of an issue that may be deleted or done by then before giving up (the pull names none)


@dataclass(frozen=True)
class JiraKeys:
    """The Jira site, to draw the issue a pull request opened at some moment works on."""

    jira: JiraData

    @classmethod
    def of(cls, jira: JiraData) -> JiraKeys:
        return cls(jira)

    @property
    def reads_state(self) -> bool:
        """Whether a draw builds the issue to skip done ones (small scales, where every issue is built anyway)."""
        return not self.jira.lazy

    def draw(self, r: random.Random, at_ms: int) -> str | None:
        """The key, at `at_ms`, of an issue created in the two weeks before it, not deleted and not done by then
        (work is linked while it is being done; a key drawn for a closed issue would make every PR a follow-up)."""
        created = self.jira.created  # the skeleton is in creation order
        lo, hi = bisect_left(created, at_ms - LOOKBACK_MS), bisect_right(created, at_ms)
        if lo >= hi:
            return None
        for _ in range(TRIES):
            n = r.randrange(lo, hi)
            skeleton = self.jira.skeleton[n]
            if not skeleton.exists(at_ms):
                continue
            if not self.reads_state:
                return skeleton.key_at(at_ms)
            state = issue_state(self.jira.issues.get(n), at_ms)
            if state is not None and state.category != "done":
                return state.key
        return None


def pull_kind(pull: GhPull) -> str:
    """The kind the generator gave the pull request, from its branch `<login>/<kind>-<number>`."""
    return pull.head_ref.rsplit("/", 1)[-1].rsplit("-", 1)[0]


def link_pull(seed: int, pull: GhPull, keys: JiraKeys) -> GhPull:
    """`pull` with a Jira key written in one of the ways teams write it, or unchanged."""
    if pull_kind(pull) not in LINKED_KINDS:
        return pull
    r = rng(seed, "pull-jira-link", pull.n)
    style = weighted(r, STYLES)
    if style == "none":
        return pull
    key = keys.draw(r, pull.created_ms)
    if key is None:
        return pull
    if style == "title":
        return dataclasses.replace(pull, title=f"{key} {pull.title}")
    if style == "brackets":
        return dataclasses.replace(pull, title=f"[{key}] {pull.title}")
    if style == "two_brackets":
        other = keys.draw(r, pull.created_ms)
        both = f"[{key}][{other}]" if other and other != key else f"[{key}]"
        return dataclasses.replace(pull, title=f"{both} {pull.title}")
    if style == "branch":
        login, _, rest = pull.head_ref.rpartition("/")
        return dataclasses.replace(pull, head_ref=f"{login}/{key.lower()}-{rest}")
    return dataclasses.replace(pull, commit_key=key)
