"""Request counters per API and route template, so a demo can report how many calls each stream cost."""

from __future__ import annotations

import threading
from collections import defaultdict

UNMATCHED = "(unmatched)"
# The method a request is counted under when a per-minute limit refused it (emulator/realtime.py): `REFUSED /graphql`.
REFUSED = "REFUSED"


class RequestStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = defaultdict(dict)

    def count(self, api: str, method: str, template: str) -> None:
        key = f"{method} {template}"
        with self._lock:
            bucket = self._counts[api]
            bucket[key] = bucket.get(key, 0) + 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {api: dict(sorted(routes.items())) for api, routes in sorted(self._counts.items())}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
