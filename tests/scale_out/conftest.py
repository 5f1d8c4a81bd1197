"""Fixtures of the scale-out tests: a real S3-compatible server (moto in server mode) on loopback.

moto answers the S3 REST API over HTTP on 127.0.0.1 (port 0: a free one), so the code under test talks to it
exactly as to AWS or MinIO: through s3fs and botocore, with signed requests and conditional PUTs. It is started
once per session (< 1 s) and stopped at the end, also after a failure.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

# Credentials the tests export: the secret key and the session token are canaries (tests/canary.py looks for them
# in every file a test writes; the tests look for them in the object store and the logs too).
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "opskpi-scale-out",
    "AWS_SECRET_ACCESS_KEY": "cnry-S3SECRET-4d7e91b0c2a8",
    "AWS_SESSION_TOKEN": "cnry-S3SESSION-b61f0e27d935",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_env(monkeypatch) -> dict[str, str]:
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return S3_ENV


@pytest.fixture
def bucket(moto_endpoint: str, s3_env) -> str:
    """A new, empty bucket on the moto server (each test its own)."""
    import boto3

    name = f"opskpi-{secrets.token_hex(4)}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=name)
    return name
