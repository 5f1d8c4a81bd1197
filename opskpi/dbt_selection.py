"""What a nightly `dbt build` must build: everything, or only what the data loaded since the last build can change.

A build's cost at `medium` was almost all dbt's own per-node work (~420 nodes, ~250 of them tests), paid again on a
night that loaded one day or nothing at all. A *slim* build selects, with dbt's own graph operators,

- `tag:every_run+`: the models that read the run's date, as-of or id (they move every night whatever was loaded;
  macros/run_parameters.sql refuses to compile an untagged reader) and everything downstream of them;
- `source:<name>+` for every source table whose contents changed since the last successful build, and everything
  downstream of it (tests included: dbt selects the tests of the selected nodes).

Anything else was built by the previous build from the same inputs by the same code, so it is already right, and
its tests passed then. This holds only while the code and the settings are the same, so the state of the last
successful build (`meta.dbt_build_state`) keeps a checksum of the dbt project, the dbt vars and dbt's version; on any
difference, on a full refresh, or without a state, the build is a full one (every node, as before).

How a source table "changed": a raw table of an API (it has `_loaded_at`) by its row count and newest `_loaded_at`
(the loader merges a new or changed record with a new `_loaded_at` and never rewrites a row without one); the
small tables without `_loaded_at` (the config mappings, the pipeline's `meta` tables) by a hash of every row.
The fingerprints are taken under the warehouse lock before dbt starts and recorded only after dbt succeeded (with
tests), so a failed or test-less build leaves the older state: the next build then selects everything changed
since that one, a superset of what it must rebuild. dbt's `source_status:fresher+` selector would need a
`dbt source freshness` run in every transform (the bench, the tests and a replay do not run the freshness step),
sees no source without a `loaded_at_field` (the config and meta tables), and misses a deleted row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

STATE_TABLE = "meta.dbt_build_state"
EVERY_RUN = "tag:every_run+"
# What a build's result depends on besides the data; generated or installed folders are left out.
SKIPPED_DIRS = {"target", "logs", "dbt_packages", ".user.yml"}
STATE_VERSION = 1


@dataclass
class BuildPlan:
    """`select` None: build every node; else the `dbt build --select` arguments. `state`: what to record after a
    successful build (the code checksum and the source tables' fingerprints taken before it)."""

    select: list[str] | None
    reason: str
    code_md5: str
    fingerprints: dict[str, str]
    changed: list[str] = field(default_factory=list)
    # Rebuild the incremental models from scratch (`--full-refresh`; those with full_refresh=false, the histories,
    # are kept): the code or the settings changed, so their columns may have too. dbt-duckdb cannot add a column
    # to an incremental table whose rows our pre-hook deleted in the same transaction (DuckDB refuses the commit:
    # "another transaction has altered this table"), and a changed model recomputes every row anyway.
    refresh: bool = False


def code_md5(project_dir: Path, dbt_vars: dict[str, Any]) -> str:
    """Checksum of what decides every row besides the data: the project's files, the vars, dbt's version."""
    digest = hashlib.md5()
    digest.update(f"v{STATE_VERSION}\0dbt-core {version('dbt-core')}\0dbt-duckdb {version('dbt-duckdb')}\0".encode())
    digest.update(json.dumps(dbt_vars, sort_keys=True, default=str).encode() + b"\0")
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if not path.is_file() or relative.parts[0] in SKIPPED_DIRS:
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def docs_inputs(con, project_dir: Path, dbt_vars: dict[str, Any]) -> str:
    """What the docs page is made of besides dbt itself: the code checksum and every column of the warehouse (the
    catalog dbt-duckdb reads: relation, column, position, type). Equal inputs, equal page."""
    columns = con.execute("""
        select schema_name, table_name, column_index, column_name, data_type from duckdb_columns()
        where database_name = current_database() order by all""").fetchall()
    digest = hashlib.md5(json.dumps(columns, default=str).encode())
    return f"{code_md5(project_dir, dbt_vars)}/{digest.hexdigest()}"


def _tables(con) -> dict[str, bool]:
    """Every table of the raw and meta schemas (but our own state) -> whether it has a `_loaded_at` column."""
    rows = con.execute("""
        select t.schema_name || '.' || t.table_name,
               exists (select 1 from duckdb_columns() c where c.database_name = t.database_name
                       and c.schema_name = t.schema_name and c.table_name = t.table_name
                       and c.column_name = '_loaded_at')
        from duckdb_tables() t
        where t.database_name = current_database() and t.schema_name in ('raw', 'meta')
        order by 1""").fetchall()
    return {name: loaded for name, loaded in rows if name != STATE_TABLE}


def fingerprints(con) -> dict[str, str]:
    """`schema.table` -> a value that changes when the table's contents can have changed (module docstring)."""
    tables = _tables(con)
    if not tables:
        return {}
    parts = []
    for name, loaded in tables.items():
        schema, table = name.split(".", 1)
        relation = f'"{schema}"."{table}"'
        value = ("count(*) || '/' || coalesce(cast(max(_loaded_at) as varchar), '')" if loaded
                 else "count(*) || '#' || coalesce(cast(sum(hash(t)) as varchar), '')")
        parts.append(f"select '{name}' as name, {value} as fingerprint from {relation} as t")
    return dict(con.execute(" union all ".join(parts)).fetchall())


def read_state(con) -> dict[str, Any] | None:
    found = con.execute("select count(*) from duckdb_tables() where database_name = current_database() "
                        "and schema_name = 'meta' and table_name = 'dbt_build_state'").fetchone()[0]
    if not found:
        return None
    row = con.execute(f"select state from {STATE_TABLE} order by recorded_at desc limit 1").fetchone()
    try:
        return json.loads(row[0]) if row else None
    except ValueError:
        return None


def plan(con, project_dir: Path, dbt_vars: dict[str, Any], full_refresh: bool = False) -> BuildPlan:
    """The build to run now, from the warehouse's contents and the last successful build's state."""
    code = code_md5(project_dir, dbt_vars)
    current = fingerprints(con)
    previous = read_state(con)

    def full(reason: str, refresh: bool = False) -> BuildPlan:
        return BuildPlan(None, reason, code, current, refresh=refresh)

    if full_refresh:
        return full("full refresh")
    if previous is None or previous.get("version") != STATE_VERSION:
        return full("no state of an earlier build")
    if previous.get("code_md5") != code:
        return full("the dbt project, its vars or dbt changed since the last build", refresh=True)
    sources: dict[str, list[str]] = previous.get("sources") or {}
    before: dict[str, str] = previous.get("fingerprints") or {}
    changed = sorted(relation for relation in sources if current.get(relation) != before.get(relation))
    select = [EVERY_RUN] + [f"source:{name}+" for relation in changed for name in sources[relation]]
    return BuildPlan(select, f"{len(changed)} of {len(sources)} source tables changed", code, current, changed)


def sources_of_manifest(manifest: Path) -> dict[str, list[str]]:
    """`schema.table` -> the dbt source names (`source_name.table_name`) that read it, from dbt's manifest.json."""
    nodes = json.loads(manifest.read_text()).get("sources", {})
    relations: dict[str, list[str]] = {}
    for node in nodes.values():
        relation = f"{node['schema']}.{node.get('identifier') or node['name']}"
        relations.setdefault(relation, []).append(f"{node['source_name']}.{node['name']}")
    return {relation: sorted(names) for relation, names in sorted(relations.items())}


def record(con, built: BuildPlan, manifest: Path, run_id: str) -> None:
    """After a successful build with tests: the state the next build compares with (one row, replaced)."""
    state = {"version": STATE_VERSION, "code_md5": built.code_md5, "fingerprints": built.fingerprints,
             "sources": sources_of_manifest(manifest)}
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (recorded_at TIMESTAMPTZ, run_id VARCHAR, "
                "build VARCHAR, state VARCHAR)")
    con.execute("BEGIN TRANSACTION")
    con.execute(f"DELETE FROM {STATE_TABLE}")
    con.execute(f"INSERT INTO {STATE_TABLE} VALUES (?, ?, ?, ?)",
                [datetime.now(UTC), run_id, "full" if built.select is None else "slim", json.dumps(state)])
    con.execute("COMMIT")
