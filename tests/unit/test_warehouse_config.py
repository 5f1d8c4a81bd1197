"""The `warehouse:` section (issue 23): DuckDB by default, PostgreSQL with a server named, no password in the file."""

from __future__ import annotations

import pytest

from opskpi.config import ConfigError
from opskpi.dbt_process import PROFILE_ENV

POSTGRES = {"type": "postgres", "host": "db.internal", "port": 6432, "user": "opskpi", "dbname": "kpi",
            "schema": "analytics"}


def test_duckdb_is_the_default_and_has_no_postgres_target(make_config):
    config = make_config()
    assert config.warehouse.type == "duckdb"
    assert config.warehouse.postgres_target() is None


def test_postgres_target_from_the_section(make_config):
    target = make_config(warehouse=POSTGRES).warehouse.postgres_target()
    assert (target.host, target.port, target.user, target.dbname, target.schema) == \
        ("db.internal", 6432, "opskpi", "kpi", "analytics")
    assert target.password_env == "PGPASSWORD"


@pytest.mark.parametrize("missing", ["host", "user", "dbname"])
def test_postgres_needs_host_user_and_dbname(make_config, missing):
    with pytest.raises(ConfigError, match=f"needs {missing}"):
        make_config(warehouse={k: v for k, v in POSTGRES.items() if k != missing})


def test_a_password_in_the_file_is_refused(make_config):
    with pytest.raises(ConfigError, match="unknown key"):
        make_config(warehouse={**POSTGRES, "password": "hunter2"})


def test_the_password_reaches_dbt_only_from_the_named_variable(make_config, monkeypatch):
    target = make_config(warehouse={**POSTGRES, "password_env": "KPI_DB_PASSWORD"}).warehouse.postgres_target()
    monkeypatch.delenv("KPI_DB_PASSWORD", raising=False)
    assert "OPSKPI_PG_PASSWORD" not in target.dbt_env()
    monkeypatch.setenv("KPI_DB_PASSWORD", "s3cret-value")
    env = target.dbt_env()
    assert env["OPSKPI_PG_PASSWORD"] == "s3cret-value"
    assert env["OPSKPI_DBT_TARGET"] == "postgres" and env["OPSKPI_PG_PORT"] == "6432"
    assert target.connect_kwargs()["password"] == "s3cret-value"
    # the parse cache is keyed by the profile's variables, never by the password
    assert "OPSKPI_PG_PASSWORD" not in PROFILE_ENV
    assert {"OPSKPI_DBT_TARGET", "OPSKPI_PG_HOST", "OPSKPI_PG_PORT"} <= set(PROFILE_ENV)
