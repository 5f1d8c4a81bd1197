"""The published Parquet set mirrored to an object store (opskpi/publish_store.py), on a real S3 server (moto):
a version is complete before `current.json` names it, the pointer never moves back, an unfinished upload and
versions past KEEP_VERSIONS are removed once old enough, never the current one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pytest

from opskpi.config import parse_config
from opskpi.publish import KEEP_VERSIONS, MIN_VERSION_AGE_S
from opskpi.publish_store import POINTER, current_version, mirror
from tests.conftest import config_dict

pytestmark = [pytest.mark.scale_out]


def published_version(published: Path, version: str, rows: int) -> Path:
    """A local published version as opskpi/publish.py leaves it: Parquet files, then its manifest."""
    directory = published / "versions" / version
    (directory / "parquet").mkdir(parents=True)
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT range AS n FROM range({rows})) TO '{directory / 'parquet' / 'mart_a.parquet'}' "
                    "(FORMAT parquet)")
    (directory / "manifest.json").write_text(json.dumps({"version": version, "tables": {"mart_a": rows}}))
    return directory


def test_versions_are_mirrored_whole_and_the_pointer_only_moves_forward(tmp_path, bucket, moto_endpoint):
    config = parse_config(config_dict(publish={"parquet_url": f"s3://{bucket}/opskpi/published",
                                               "endpoint_url": moto_endpoint}), tmp_path)
    root = config.published_mirror
    published = tmp_path / "published"
    versions = [f"2026112{i}T000000000000Z" for i in range(KEEP_VERSIONS + 2)]

    first = mirror(published_version(published, versions[1], 10), root)
    assert first["files"] == 1 and first["current"] and current_version(root) == versions[1]
    with duckdb.connect() as con:
        con.register_filesystem(root.fs)
        pointer = json.loads((root / POINTER).read_text())
        got = con.execute(f"SELECT count(*) FROM read_parquet('{root}/{pointer['parquet']}*.parquet')").fetchone()
    assert got == (10,)

    older = mirror(published_version(published, versions[0], 5), root)  # a slower publish of an older version
    assert not older["current"] and current_version(root) == versions[1]

    # An upload killed before its manifest: parts and no manifest, named by no pointer.
    (root / "versions" / "20261101T000000000000Z" / "parquet" / "mart_a.parquet").write_bytes(b"cut")
    for version in versions[2:]:
        mirror(published_version(published, version, 1), root)
    assert current_version(root) == versions[-1]
    listed = lambda: sorted(Path(p).name for p in root.fs.ls(f"{root.path}/versions", detail=False))  # noqa: E731
    assert len(listed()) == len(versions) + 1, "nothing is removed while younger than MIN_VERSION_AGE_S"

    mirror(published_version(published, "20261130T000000000000Z", 1), root,
           now=time.time() + MIN_VERSION_AGE_S + 60)
    assert listed() == sorted([*versions[-(KEEP_VERSIONS - 1):], "20261130T000000000000Z"])
    assert current_version(root) == "20261130T000000000000Z"
