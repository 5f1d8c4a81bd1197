"""Families of streams: what is read, and skipped on a resume, together. A child of several parents (GitHub's
deployment statuses, read for the deployments walked and for those rechecked by id) joins them into one family."""

from __future__ import annotations

import json

from extractors.pagination import LinkHeaderPaginator
from extractors.sources import build_source
from extractors.streams import Column, Stream, families
from opskpi.pipeline import _resumable


def _stream(name: str, parent=None) -> Stream:
    return Stream(source="t", name=name, columns=(Column("id"),), primary_key=("id",), records_key=None,
                  paginator=LinkHeaderPaginator, requests=lambda p, w: (), parent=parent)


def _names(groups) -> list[list[str]]:
    return [[s.name for s in group] for group in groups]


def test_a_child_of_two_parents_joins_them_and_comes_after_both():
    given = [_stream("statuses", ("deployments", "rechecks")), _stream("pulls"), _stream("deployments"),
             _stream("commits", "pulls"), _stream("rechecks", "deployments"), _stream("releases")]
    assert _names(families(given)) == [["deployments", "rechecks", "statuses"], ["pulls", "commits"], ["releases"]]


def test_the_github_deployment_family_holds_walk_recheck_and_statuses():
    source = build_source("github", {"base_url": "http://127.0.0.1:1/github", "repos": ["acme/api"], "token": "t"})
    by_first = {group[0].name: [s.name for s in group] for group in families(source.streams)}
    deployments = by_first["deployments"]
    assert set(deployments) == {"deployments", "deployment_rechecks", "deployment_statuses"}
    assert deployments[-1] == "deployment_statuses"


def test_a_resume_skips_a_parent_only_with_every_child_of_its_family(tmp_path):
    streams = [_stream("deployments"), _stream("rechecks"), _stream("statuses", ("deployments", "rechecks")),
               _stream("releases")]
    for name in ("deployments", "rechecks", "releases"):
        (tmp_path / "landing" / "t" / name / "b1").mkdir(parents=True)
    checkpoint = tmp_path / "checkpoint.json"
    checkpoint.write_text(json.dumps({"completed": {"deployments": "b1", "rechecks": "b1", "releases": "b1"}}))
    # statuses were not landed: the walk and the recheck must be read again, or their statuses would be lost.
    assert _resumable(streams, checkpoint, tmp_path / "landing", "t") == {"releases": "b1"}
    (tmp_path / "landing" / "t" / "statuses" / "b1").mkdir(parents=True)
    checkpoint.write_text(json.dumps({"completed": {"deployments": "b1", "rechecks": "b1", "statuses": "b1"}}))
    assert _resumable(streams, checkpoint, tmp_path / "landing", "t") == {
        "deployments": "b1", "rechecks": "b1", "statuses": "b1"}


def test_a_child_is_read_in_the_tasks_of_its_parents_partitions():
    """Airflow maps one extract task per partition and gives each the streams declaring that partition: a child
    declared with other partitions than its parent is run in a task where its parent's records never are, and
    lands nothing (Jira's changelogs, once issues were read per project)."""
    settings = {"base_url": "http://127.0.0.1:1", "email": "e", "token": "t", "projects": ["OPS", "WEB"],
                "repos": ["acme/api", "acme/web"]}
    for name in ("jira", "pagerduty", "github"):
        streams = {s.name: s for s in build_source(name, settings).streams}
        for child in streams.values():
            for parent in child.parents:
                assert {p.id for p in child.partitions} == {p.id for p in streams[parent].partitions}, (
                    name, child.name, parent)
