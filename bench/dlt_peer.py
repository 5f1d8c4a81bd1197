"""The peer: dlt's `rest_api` source loading GitHub pull requests and PagerDuty incidents from the emulator
into DuckDB. Runs in bench/.venv-dlt (never the project's venv): `python bench/dlt_peer.py SPEC.json`.

Standalone on purpose (imports only dlt and the standard library). It reads the same records our extractors
read in the comparison: pull requests of each repository sorted by `updated` descending, stopping below the
window's start (dlt's incremental with `row_order: desc` closes the walk there, like our `stop_when`); the
incidents created in the window (in the same creation slices ours ended up with, so no query passes
PagerDuty's 10,000 offset cap), plus every open incident whatever its age, as ours does. Every resource is
`parallelized` with `extract.workers` set to the harness's concurrency, so dlt may overlap as many requests as
our pools allow.

Writes `{"seconds": {...}, "rows": {...}, "distinct": {...}}` to `spec["out"]`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


def rest_config(spec: dict) -> dict:
    resources = []
    for repo in spec["repos"]:
        resources.append({
            "name": "pulls_" + repo.replace("/", "__").replace("-", "_").replace(".", "_"),
            "table_name": "pulls",
            "parallelized": True,
            "endpoint": {
                "path": f"repos/{repo}/pulls",
                "params": {"state": "all", "sort": "updated", "direction": "desc", "per_page": 100},
                "incremental": {"cursor_path": "updated_at", "initial_value": spec["window_start"],
                                "row_order": "desc"},
            },
        })
    common = {"time_zone": "UTC", "sort_by": "created_at:asc"}
    for i, (since, until) in enumerate(spec["incident_windows"]):
        resources.append({
            "name": f"incidents_{i}",
            "table_name": "incidents",
            "parallelized": True,
            "endpoint": {
                "path": "incidents",
                "params": {**common, "since": since, "until": until},
                "data_selector": "incidents",
                "paginator": {"type": "offset", "limit": 100, "offset_param": "offset", "limit_param": "limit",
                              "total_path": None, "has_more_path": "more"},
            },
        })
    resources.append({
        "name": "incidents_open",
        "table_name": "incidents",
        "parallelized": True,
        "endpoint": {
            "path": "incidents",
            "params": {**common, "date_range": "all", "statuses[]": ["triggered", "acknowledged"]},
            "data_selector": "incidents",
            "paginator": {"type": "offset", "limit": 100, "offset_param": "offset", "limit_param": "limit",
                          "total_path": None, "has_more_path": "more"},
        },
    })
    return resources


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    os.environ["EXTRACT__WORKERS"] = str(spec.get("workers", 3))
    work = Path(spec["work_dir"])
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)  # dlt looks for .dlt/ config here: none
    started = time.perf_counter()
    import dlt
    from dlt.sources.rest_api import rest_api_source

    imported = time.perf_counter()
    resources = rest_config(spec)
    github = [r for r in resources if r["table_name"] == "pulls"]
    pagerduty = [r for r in resources if r["table_name"] == "incidents"]
    sources = [
        rest_api_source({
            "client": {"base_url": spec["base_url"] + "/github/", "paginator": "header_link",
                       "headers": {"Authorization": f"Bearer {spec['github_token']}",
                                   "Accept": "application/vnd.github+json"}},
            "resources": github,
        }, name="github"),
        rest_api_source({
            "client": {"base_url": spec["base_url"] + "/pagerduty/",
                       "headers": {"Authorization": f"Token token={spec['pagerduty_token']}",
                                   "Accept": "application/vnd.pagerduty+json;version=2"}},
            "resources": pagerduty,
        }, name="pagerduty"),
    ]
    database = str(work / "dlt.duckdb")
    pipeline = dlt.pipeline(pipeline_name=spec["name"], destination=dlt.destinations.duckdb(database),
                            dataset_name="peer", pipelines_dir=str(work / "pipelines"), progress=None)
    seconds = {"import": imported - started}
    t = time.perf_counter()
    if spec.get("loader_file_format"):
        pipeline.extract(sources, loader_file_format=spec["loader_file_format"])
    else:
        pipeline.extract(sources)
    seconds["extract"] = time.perf_counter() - t
    t = time.perf_counter()
    pipeline.normalize()
    seconds["normalize"] = time.perf_counter() - t
    t = time.perf_counter()
    pipeline.load()
    seconds["load"] = time.perf_counter() - t
    seconds["work"] = seconds["extract"] + seconds["normalize"] + seconds["load"]
    import duckdb

    rows, distinct = {}, {}
    with duckdb.connect(database, read_only=True) as con:
        for table, key in (("pulls", "id"), ("incidents", "id")):
            rows[table], distinct[table] = con.execute(
                f"SELECT count(*), count(DISTINCT {key}) FROM peer.{table}").fetchone()
    Path(spec["out"]).write_text(json.dumps({"seconds": seconds, "rows": rows, "distinct": distinct,
                                             "dlt_version": dlt.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
