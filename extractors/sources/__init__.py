"""One module per API. Each exposes `build(settings) -> Source`: an authenticated client and its streams.

`settings` is a plain mapping (base_url, credentials, projects, repos…) so this package never
depends on how the application stores its configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from extractors.http import HttpClient
from extractors.streams import Stream


@dataclass(frozen=True)
class Source:
    name: str
    client: Callable[[], HttpClient]
    streams: tuple[Stream, ...]

    def stream(self, name: str) -> Stream:
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise KeyError(f"source {self.name!r} has no stream {name!r}; it has {[s.name for s in self.streams]}")


def build_source(name: str, settings: Mapping[str, Any]) -> Source:
    from extractors.sources import github, jira, pagerduty

    builders = {"jira": jira.build, "pagerduty": pagerduty.build, "github": github.build}
    if name not in builders:
        raise KeyError(f"unknown source {name!r}; known: {sorted(builders)}")
    return builders[name](settings)
