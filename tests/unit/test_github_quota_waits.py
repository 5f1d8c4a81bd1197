"""A GitHub extract larger than the hourly GraphQL quota completes by waiting through every reset.

The emulator enforces a small quota (a few points per emulated hour) and runs its clock fast (`clock_rate`:
emulated seconds per real second), so each hourly reset is waited through in about a second; the client measures
each wait on the server's clock (its `Date` header) and sleeps it at the same rate (`server_clock_rate`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from emulator.server import start_emulator
from extractors.engine import extract_streams
from extractors.sources import build_source
from extractors.streams import Window

NOW = "2026-11-20T06:00:00Z"
RATE = 1200.0  # 20 emulated minutes per real second: a page takes minutes, a reset wait at most 3 s
POINTS_PER_HOUR = 2


def test_a_run_needing_several_hours_of_graphql_quota_waits_through_each_reset(tmp_path):
    with start_emulator(seed=42, now=NOW, github_graphql_points=POINTS_PER_HOUR, clock_rate=RATE,
                        profile="stress") as emu:
        start = datetime.fromisoformat(emu.now.replace("Z", "+00:00"))
        data = emu.app.world.github
        expected = {("acme/api", str(d.id)) for d in data.deployments_by_repo[data.repo_by_name["api"].index]
                    if start - timedelta(days=30) <= datetime.fromtimestamp(d.created_ms / 1000, UTC) <= start}
        src = build_source("github", {"base_url": emu.github_url, "token": emu.credentials.github_token,
                                      "repos": ["acme/api"], "page_size": 25,
                                      "server_clock_rate": RATE})
        names = ("pulls", "pull_commits", "deployments", "deployment_statuses")
        streams = [src.stream(n) for n in names]
        end = start + timedelta(days=1)  # beyond anything created while we read
        window = {s.name: {p.id: Window(start - timedelta(days=30), end) for p in s.partitions} for s in streams}
        client = src.client()
        events: list[dict] = []
        results = {r.stream: r for r in extract_streams(client, streams, window, tmp_path, progress=events.append)}
        graphql = requests.get(emu.github_url + "/rate_limit", timeout=10, headers={
            "Authorization": f"bearer {emu.credentials.github_token}"}).json()["resources"]["graphql"]

    points = sum(r.manifest["points"] for r in results.values())
    assert points > 3 * POINTS_PER_HOUR, "the run needs several hours of quota"
    assert client.stats.quota_waits >= 1 and client.stats.rate_limit_waits == 0, "waited before being refused"
    assert graphql["limit"] == POINTS_PER_HOUR
    waits = [e for e in events if e["event"] == "waiting"]
    assert waits and all(e["resource"] == "graphql" and e["reset_at"].endswith(":00:00Z") for e in waits)
    # Nothing was lost to the waits: every deployment of the window landed (they never move in the list).
    import pyarrow.parquet as pq

    from extractors.landing import read_manifest

    batch = results["github__deployments"].batch_dir
    landed = pq.read_table([str(batch / f) for f in read_manifest(batch)["files"]]).to_pylist()
    assert expected <= {(r["repo"], r["id"]) for r in landed}
