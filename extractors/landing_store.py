"""Where landing batches live: a local directory (the default) or a prefix on an S3-compatible object store.

One abstraction for both, fsspec, through universal_pathlib (the pathlib API over fsspec that Airflow's own
ObjectStoragePath is built on). A local root is a plain `pathlib.Path`, so the local code path is the one it
always was, call for call; an `s3://bucket/prefix` root is a `UPath` over s3fs, and the callers keep using
`/`, `.name`, `.exists()`, `.read_text()`. The few operations that differ on an object store are here, each
with its local and its object-store branch: S3 has no directory rename and no append, DuckDB and pyarrow
must be handed the filesystem, and a "directory" is only a key prefix.

Credentials are never in the config: s3fs reads them as botocore does (AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, a profile, an instance role); the DAG exports an Airflow
connection's into those variables. botocore's errors and debug logs can carry request URLs (presigned ones
hold a signature) and the session token travels in a header: `redacted_errors` and the log record factory below
mask them with the project's Redactor.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from extractors.redaction import Redactor

OBJECT_STORE_SCHEMES = ("s3://",)
# The credential variables botocore reads whose values are secret (an access key id is an identifier).
SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
MANIFEST = "_manifest.json"

# A path on the landing store: a pathlib.Path locally, a upath.UPath on an object store.
StorePath = Any


def is_object_store_url(url: str | PurePath) -> bool:
    return isinstance(url, str) and url.startswith(OBJECT_STORE_SCHEMES)


def open_root(url: str | Path, endpoint_url: str | None = None) -> StorePath:
    """The root of a landing (or quarantine) tree: `Path` for a local directory, `UPath` for `s3://bucket/prefix`.

    Listings are never cached (`use_listings_cache=False`): another process (a worker on another host) adds
    batches all the time, and a cached listing would hide them from the validator and the loader."""
    if not is_object_store_url(url):
        return Path(url)
    from upath import UPath

    options: dict[str, Any] = {"use_listings_cache": False}
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    return UPath(str(url), **options)


def is_local(path: StorePath) -> bool:
    return isinstance(path, PurePath)


def export_credentials(access_key_id: str | None, secret_access_key: str | None,
                       session_token: str | None = None) -> None:
    """Credentials from elsewhere (an Airflow connection) handed to botocore through its own variables, for this
    process and its children; the values given replace those inherited, the others are left as they are."""
    for name, value in (("AWS_ACCESS_KEY_ID", access_key_id), ("AWS_SECRET_ACCESS_KEY", secret_access_key),
                        ("AWS_SESSION_TOKEN", session_token)):
        if value:
            os.environ[name] = value


def secrets_in_env() -> list[str]:
    return [v for name in SECRET_ENV if (v := os.environ.get(name))]


def redactor() -> Redactor:
    """Masks the object store's secrets (read now: a task may have just exported them) and signed URL parameters."""
    return Redactor(secrets_in_env())


class LandingStoreError(RuntimeError):
    """An object-store operation failed; the message is redacted (no secret, no signature)."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those a traceback prints with it (its cause, or its context unless suppressed)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)


# Where an object-store failure comes from: its exceptions, or the builtin OSErrors s3fs makes of them (requests'
# ConnectionError is an OSError too, but from `requests`: the HTTP client redacts those itself).
_STORE_MODULES = frozenset({"botocore", "aiobotocore", "boto3", "s3fs", "fsspec", "upath", "aiohttp"})


def _from_store(exc: BaseException) -> bool:
    module = type(exc).__module__.split(".")[0]
    return module in _STORE_MODULES or (module == "builtins" and isinstance(exc, OSError))


@contextmanager
def redacted_errors() -> Iterator[None]:
    """No secret or signed URL of the object store in what an exception shows. An object-store failure whose text
    (or that of an exception printed with it) would show one is re-raised as a LandingStoreError with the redacted
    texts and no chain; one of the project's own exceptions (redacted where it is made) keeps its type, and only
    loses the store's exception chained to it. Anything else passes through unchanged. Usable as a decorator."""
    try:
        yield
    except Exception as exc:
        chain = list(_chain(exc))
        if not any(_from_store(e) for e in chain):
            raise
        redact = redactor()
        texts = [f"{type(e).__name__}: {e}" for e in chain]
        clean = [redact(t) for t in texts]
        if clean == texts:
            raise
        if not _from_store(exc) and clean[0] == texts[0]:
            exc.__cause__, exc.__suppress_context__ = None, True
            raise
        raise LandingStoreError(" <- ".join(clean)) from None


# Loggers of the object-store client: at DEBUG they log every request (URL, headers with the session token) and
# response body. A filter on a logger does not see its children's records (`botocore.endpoint`), so the records of
# these loggers are redacted where records are made, by a record factory wrapped around the one in place.
_STORE_LOGGERS = tuple(f"{name}." for name in _STORE_MODULES)


def _redacting_factory(previous):
    def make(name, *args, **kwargs):
        record = previous(name, *args, **kwargs)
        if f"{name}.".startswith(_STORE_LOGGERS):
            try:
                record.msg, record.args = redactor()(record.getMessage()), ()
            except (TypeError, ValueError):  # arguments that do not fit the message: logging reports it later
                pass
        return record

    make.redacts_object_store = True
    return make


if not getattr(logging.getLogRecordFactory(), "redacts_object_store", False):
    logging.setLogRecordFactory(_redacting_factory(logging.getLogRecordFactory()))


def write_parquet(table: pa.Table, path: StorePath, **options: Any) -> None:
    if is_local(path):
        pq.write_table(table, path, **options)
        return
    with path.open("wb") as out:  # one PUT (a multipart upload past s3fs's block size) when closed
        pq.write_table(table, out, **options)


def create_new(path: StorePath, data: bytes) -> None:
    """Write `data` to `path` only if nothing is there yet (FileExistsError otherwise). On S3 a conditional PUT
    (`If-None-Match: *`): two writers racing for one key cannot both win, and nothing is ever overwritten."""
    if is_local(path):
        with open(path, "xb") as out:
            out.write(data)
        return
    path.fs.pipe_file(path.path, data, mode="create")


def write_replace(path: StorePath, data: bytes) -> None:
    """Replace `path` as one step: locally a temporary file renamed over it; on S3 one PUT (a reader sees the old
    object or the new one, never a mix)."""
    if is_local(path):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return
    path.fs.pipe_file(path.path, data)


def _filesystem(paths: list[StorePath]):
    """(paths as pyarrow wants them, the filesystem to read them with or None for local files)."""
    if not paths or is_local(paths[0]):
        return [str(p) for p in paths], None
    return [p.path for p in paths], paths[0].fs


def read_table(paths: list[StorePath], columns: list[str] | None = None) -> pa.Table:
    names, fs = _filesystem(paths)
    return pq.read_table(names, columns=columns, filesystem=fs)


def read_schema(path: StorePath) -> pa.Schema:
    names, fs = _filesystem([path])
    return pq.read_schema(names[0], filesystem=fs)


def duckdb_paths(con, paths: list[StorePath]) -> list[str]:
    """The files as DuckDB's `read_parquet` takes them. DuckDB's httpfs is not used (it cannot be installed
    everywhere, e.g. offline); the store's own fsspec filesystem is registered with the connection instead."""
    if paths and not is_local(paths[0]):
        fs = paths[0].fs
        for protocol in (fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)):
            if protocol in con.list_filesystems():
                con.unregister_filesystem(protocol)  # the same name on another endpoint: this store's wins
        con.register_filesystem(fs)
    return [str(p) for p in paths]


def remove_tree(path: StorePath) -> None:
    if is_local(path):
        shutil.rmtree(path, ignore_errors=True)
    elif path.fs.exists(path.path):
        path.fs.rm(path.path, recursive=True)


def rename(source: StorePath, target: StorePath) -> None:
    """One file renamed: os.rename locally; on an object store a copy then a delete (a reader of a verdict file
    sees it under one name or both for a moment, never neither)."""
    if is_local(source):
        source.rename(target)
        return
    source.fs.copy(source.path, target.path)
    source.fs.rm_file(source.path)


def move_tree(source: StorePath, target: StorePath) -> None:
    """Move a batch directory (to quarantine, or back from it), within a store or across stores.

    Locally one rename (shutil.move). Otherwise every file is copied (the manifest last, so the copy is a batch
    only once it is whole), then the source's manifest is removed first (it stops being a batch at once: no
    reader sees it twice) and the rest after it."""
    if is_local(source) and is_local(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), str(target))
        return
    files = sorted(_files(source), key=lambda rel: (rel == MANIFEST, rel))
    if is_local(target):
        target.mkdir(parents=True, exist_ok=True)
    for rel in files:
        destination = target.joinpath(*rel.split("/"))
        if is_local(destination):
            destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(source.joinpath(*rel.split("/")).read_bytes())
    if MANIFEST in files:
        source.joinpath(MANIFEST).unlink()
    remove_tree(source)


def _files(root: StorePath) -> list[str]:
    """Paths of the files under `root`, relative to it, with `/` separators."""
    if is_local(root):
        return [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    base = root.path.rstrip("/") + "/"
    return [name[len(base):] for name in root.fs.find(root.path)]
