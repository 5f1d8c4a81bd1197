"""A new data directory starts from the parse of an earlier one (opskpi/dbt_process.py), and only when it fits.

dbt writes `perf_info.json` after each parse: `parsed_path_count` is how many of the project's files it parsed
again (all of them without a usable saved parse, none when the saved one fits and nothing changed).
"""

from __future__ import annotations

import json
from datetime import date

from opskpi import dbt_process, pipeline
from opskpi.warehouse import Warehouse
from tests.conftest import config_dict


def parse(config) -> int:
    """`dbt parse` the way the pipeline starts every dbt step; returns how many files dbt parsed."""
    ctx = pipeline.RunContext.for_date(config, date(2026, 11, 19), "parse")
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with Warehouse(config.warehouse_path).lock() as lock_fd:
        completed = pipeline.run_dbt(config, pipeline.dbt_command(config, ctx, "parse"),
                                     pipeline.dbt_env(config, ctx), lock_fd)
    assert completed.returncode == 0, completed.stdout[-3000:]
    perf = json.loads((config.data_dir / "dbt" / "target" / "perf_info.json").read_text())
    return perf["parsed_path_count"]


def test_a_new_data_directory_starts_from_the_shared_parse_of_its_configuration(tmp_path, monkeypatch):
    from opskpi.config import parse_config

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    seeds = tmp_path / "cache" / "opskpi" / "dbt-parse"
    first = parse_config(config_dict(data_dir="first"), tmp_path / "a")
    assert parse(first) > 100, "nothing to start from: the whole project is parsed"
    assert len(list(seeds.glob("*.msgpack"))) == 1

    # Another directory, another warehouse path, the same configuration: dbt accepts the shared parse as it is.
    second = parse_config(config_dict(data_dir="second"), tmp_path / "b")
    assert second.warehouse_path != first.warehouse_path
    assert parse(second) == 0

    # Other vars (a reporting time zone): dbt would reparse, so this configuration keeps a parse of its own.
    other = parse_config(config_dict(data_dir="other", reporting={"timezone": "Europe/Berlin"}), tmp_path / "c")
    assert parse(other) > 100
    assert len(list(seeds.glob("*.msgpack"))) == 2


def test_a_cache_that_cannot_be_written_costs_only_the_shared_parse(tmp_path, monkeypatch):
    """A read-only cache directory (a locked-down home) never fails a dbt step."""
    (tmp_path / "cache").write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    own = tmp_path / "own.msgpack"
    own.write_bytes(b"parse")
    dbt_process.share(own, dbt_process.seed_path(tmp_path, ["dbt", "parse"], {}))
    assert (tmp_path / "cache").read_text() == "not a directory"


def test_without_a_home_dbt_runs_as_it_would(tmp_path, monkeypatch):
    """No XDG_CACHE_HOME and no home directory (a bare container user): no cache, and no failure."""
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(dbt_process.Path, "home", staticmethod(no_home))
    assert dbt_process.seed_path(tmp_path, ["dbt", "parse"], {}) is None
    assert dbt_process.docs_page_path(tmp_path, "inputs") is None
    own = tmp_path / "own.msgpack"
    own.write_bytes(b"parse")
    dbt_process.share(own, None)
    completed = dbt_process.run(["true"], {}, tmp_path, tmp_path / "target", tmp_path)
    assert completed.returncode == 0
