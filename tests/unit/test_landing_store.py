"""The landing location (`landing:`): parsed strictly, local by default exactly as before, and object-store errors
redacted. The object store itself is exercised against a real S3 server in tests/scale_out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path, PosixPath

import pytest

from extractors.landing_store import LandingStoreError, redacted_errors
from opskpi.config import ConfigError, parse_config
from tests.conftest import config_dict

ROOT = Path(__file__).resolve().parents[2]
SECRET = "cnry-UNITSECRET-8c1d2e3f"


def test_by_default_landing_and_quarantine_are_the_local_directories_of_today(tmp_path):
    config = parse_config(config_dict(), tmp_path)
    assert type(config.landing_dir) is PosixPath and config.landing_dir == tmp_path / "data" / "landing"
    assert type(config.quarantine_dir) is PosixPath and config.quarantine_dir == tmp_path / "data" / "quarantine"


def test_a_local_landing_url_is_resolved_like_data_dir(tmp_path):
    config = parse_config(config_dict(landing={"url": "elsewhere/landing"}), tmp_path)
    assert config.landing_dir == tmp_path / "elsewhere" / "landing"
    assert config.quarantine_dir == tmp_path / "data" / "quarantine"


def test_an_s3_landing_puts_the_quarantine_beside_it_on_the_same_endpoint(tmp_path):
    config = parse_config(config_dict(landing={"url": "s3://ops-bucket/opskpi/landing/",
                                               "endpoint_url": "http://127.0.0.1:9000"}), tmp_path)
    assert str(config.landing_dir) == "s3://ops-bucket/opskpi/landing"
    assert str(config.quarantine_dir) == "s3://ops-bucket/opskpi/quarantine"
    assert config.landing_dir.storage_options["endpoint_url"] == "http://127.0.0.1:9000"
    assert config.landing_dir.storage_options["use_listings_cache"] is False  # other hosts add batches


@pytest.mark.parametrize(("landing", "message"), [
    ({"url": "s3://ops-bucket"}, "landing.url: 's3://ops-bucket': give a prefix under the bucket"),
    ({"url": "s3://AKIA:secret@ops-bucket/landing"}, "landing.url: the URL carries credentials"),
    ({"url": "gs://ops-bucket/landing"}, "landing.url: 'gs://ops-bucket/landing': write a local directory or s3://"),
    ({"url": "s3://Ops_Bucket/landing"}, "landing.url: 's3://Ops_Bucket/landing' is not s3://bucket/prefix"),
    ({"endpoint_url": "http://key:secret@minio:9000"}, "landing.endpoint_url: the URL carries credentials"),
    ({"endpoint_url": "minio:9000"}, "landing.endpoint_url: 'minio:9000' is not an http(s) URL"),
    ({"secret_access_key": "x"}, "landing.secret_access_key: unknown key"),
])
def test_bad_landing_settings_fail_naming_the_key(tmp_path, landing, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(config_dict(landing=landing), tmp_path)
    assert str(caught.value).startswith(message), str(caught.value)


def _store_failure():
    """What s3fs raises: an OSError made of a botocore error whose text holds a signed URL and the secret."""
    class ClientError(Exception):
        pass

    ClientError.__module__ = "botocore.exceptions"
    try:
        raise ClientError(f"An error occurred (SignatureDoesNotMatch): https://s3.example/b/k?X-Amz-Signature=abc123"
                          f"def456&X-Amz-Credential=AKIA%2F20261207 expected secret {SECRET}")
    except ClientError as exc:
        raise PermissionError("Forbidden") from exc


def test_an_object_store_error_is_redacted_and_carries_no_chain(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    with pytest.raises(LandingStoreError) as caught, redacted_errors():
        _store_failure()
    shown = "".join(traceback.format_exception(caught.value))
    assert "SignatureDoesNotMatch" in shown and "PermissionError: Forbidden" in shown
    assert SECRET[:6] not in shown and "abc123" not in shown and "AKIA%2F" not in shown


def test_other_errors_pass_through_unchanged(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    error = RuntimeError("data quality guard failed: token=abc in a record")  # the project's own, already redacted
    with pytest.raises(RuntimeError) as caught, redacted_errors():
        raise error
    assert caught.value is error


class GuardFailure(RuntimeError):
    """Stands for one of the project's own errors (their texts are redacted where they are made)."""


def test_a_project_error_keeps_its_type_and_loses_only_the_leaky_store_error_under_it(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    with pytest.raises(GuardFailure) as caught, redacted_errors():
        try:
            _store_failure()
        except PermissionError as exc:
            raise GuardFailure("the batch could not be moved to quarantine") from exc
    shown = "".join(traceback.format_exception(caught.value))
    assert "could not be moved to quarantine" in shown and SECRET[:6] not in shown and "abc123" not in shown


def test_an_http_error_of_the_api_client_passes_through(monkeypatch):
    """requests' ConnectionError is an OSError, but not the store's: extractors/http.py redacts those."""
    import requests

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    error = requests.ConnectionError("https://api.example/x?token=abcdef123")  # redaction would change it
    with pytest.raises(requests.ConnectionError) as caught, redacted_errors():
        raise error
    assert caught.value is error


def test_the_dag_takes_the_object_store_credentials_from_an_airflow_connection(tmp_path):
    """`landing.airflow_conn_id`: login, password and extra aws_session_token become botocore's variables."""
    connection = {"conn_type": "aws", "login": "AKIDLANDING", "password": SECRET,
                  "extra": {"aws_session_token": "cnry-UNITSESSION-77aa"}}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AIRFLOW_CONN_LANDING_STORE"] = json.dumps(connection)
    probe = f"""
import json, os, sys
sys.path[:0] = [{str(ROOT / "dags")!r}, {str(ROOT / "plugins")!r}, {str(ROOT)!r}]
import ops_kpi_daily
from opskpi.config import parse_config
from tests.conftest import config_dict
config = parse_config(config_dict(landing={{"url": "s3://ops-bucket/landing", "airflow_conn_id": "landing_store"}}),
                      {str(tmp_path)!r})
ops_kpi_daily.store_credentials(config)
print(json.dumps({{k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}}))
"""
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "AWS_ACCESS_KEY_ID": "AKIDLANDING", "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": "cnry-UNITSESSION-77aa"}
