"""Claim check: a result too large for an event is stored out of band, and the event carries its reference.

The store is content-addressed: a blob's reference is ``sha256:<hex>`` of its bytes, so writing the same result
twice (an attempt re-run after a crash) stores it once, and a reader can check what it got. The bytes are the
result encoded as JSON.

How a reference travels (the contract between executors and the planner):

- an executor that stores a result publishes ``TaskFinished(result=None, result_ref=REF)``;
- the planner records that task's result as the marker ``{"$blob": REF}`` (``marker(REF)``) and substitutes the
  marker like any other result, so events stay small (``RunFinished.observations`` carries the marker too);
- an executor resolves markers in a task's arguments before the tool runs (``resolve_blobs``), and anyone else
  who needs the value (a client showing the answer, the planner rendering a result inside text) does the same
  with a ``read`` function of their own store.

Stores: a local folder (``.genesis/blobs``, shared by the executors of one machine) or any S3-compatible bucket
(``s3://bucket/prefix``: AWS, MinIO, Ceph; ``tools.blob_store_endpoint`` names a non-AWS endpoint, credentials come
from boto3's usual chain). Other schemes are refused by name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import msgspec

BLOB_KEY = "$blob"
_REF = re.compile(r"sha256:[0-9a-f]{64}")


class BlobNotFound(LookupError):
    """No blob under this reference (the store was cleaned, or another machine's folder holds it)."""


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, ref: str) -> bytes: ...


def blob_ref(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def check_ref(ref: str) -> str:
    """``ref`` if it is a well-formed reference; never a path, so a crafted reference cannot leave the store."""
    if not isinstance(ref, str) or not _REF.fullmatch(ref):
        raise ValueError(f"not a blob reference: {str(ref)[:80]!r} (expected sha256:<64 hex digits>)")
    return ref


def marker(ref: str) -> dict[str, str]:
    """The value that stands for a stored result inside results and arguments."""
    return {BLOB_KEY: check_ref(ref)}


def is_marker(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(BLOB_KEY), str)


def holds_markers(value: Any) -> bool:
    """Whether resolving ``value`` would read the store (cheap check before doing it)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if is_marker(item):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def resolve_blobs(value: Any, read: Callable[[str], bytes]) -> Any:
    """``value`` with every ``{"$blob": REF}`` replaced by the decoded JSON that ``read(REF)`` returns.

    Pure apart from ``read``. Raises BlobNotFound from ``read`` and ValueError for a malformed reference.
    """
    if is_marker(value):
        return msgspec.json.decode(read(check_ref(value[BLOB_KEY])))
    if isinstance(value, dict):
        return {key: resolve_blobs(item, read) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [resolve_blobs(item, read) for item in value]
    return value


class Swept(msgspec.Struct, frozen=True):
    """What a sweep of the store did (or, in a dry run, would do)."""

    deleted: int
    freed_bytes: int
    kept: int


class LocalBlobStore:
    """Blobs as files named by their hash under one folder; every executor on the machine shares it.

    Nothing here knows which runs still need a blob, so blobs are swept by age (``sweep``): a blob written or
    written again (``put`` of the same content touches it) within the cutoff stays. Choose a cutoff longer than
    any run lives and than readers of finished runs' answers need them.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, ref: str) -> Path:
        digest = check_ref(ref).removeprefix("sha256:")
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        ref = blob_ref(data)
        path = self._path(ref)
        try:
            os.utime(path)  # stored already: young again, so a sweep keeps it for the event about to carry it
            return ref
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader never sees half a blob, and two writers of one blob both succeed.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as part:
            part.write(data)
        os.replace(part.name, path)
        return ref

    def get(self, ref: str) -> bytes:
        try:
            data = self._path(ref).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"blob {ref} is not in {self.root}") from None
        if blob_ref(data) != ref:
            raise BlobNotFound(f"blob {ref} in {self.root} is damaged (its content has another hash)")
        return data

    def sweep(self, older_than_s: float, *, now: float, dry_run: bool = False) -> Swept:
        """Delete the blobs (and parts left by writers that died) last written more than ``older_than_s`` before
        ``now`` (epoch seconds). Only the store's own files are touched: ``xx/<64 hex>`` and writers' temp parts.
        A blob is set aside before it is deleted and put back if a writer touched it meanwhile."""
        cutoff = now - older_than_s
        deleted = freed = kept = 0
        for folder in sorted(self.root.glob("[0-9a-f][0-9a-f]")):
            for path in sorted(folder.iterdir()):
                name = path.name.removesuffix(".sweeping")  # one set aside by a sweep that did not finish
                own = _BLOB_FILE.fullmatch(name) is not None and name.startswith(folder.name)
                part = path.name.startswith(tempfile.gettempprefix())
                if not (own or part) or not path.is_file():
                    continue
                stat = path.stat()
                if stat.st_mtime >= cutoff:
                    kept += 1
                    continue
                if not dry_run and not _delete_unless_touched(path, cutoff):
                    kept += 1
                    continue
                deleted += 1
                freed += stat.st_size
        return Swept(deleted=deleted, freed_bytes=freed, kept=kept)


_BLOB_FILE = re.compile(r"[0-9a-f]{64}")


def _delete_unless_touched(path: Path, cutoff: float) -> bool:
    aside = path.with_name(path.name + ".sweeping")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False  # gone already
    if aside.stat().st_mtime >= cutoff:  # a writer touched it between our look and the rename: it stays
        os.replace(aside, path)
        return False
    aside.unlink()
    return True


class S3BlobStore:
    """Blobs as objects named by their hash under ``s3://bucket/prefix`` of any S3-compatible store."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self._prefix}"

    def _key(self, ref: str) -> str:
        digest = check_ref(ref).removeprefix("sha256:")
        return f"{self._prefix}/{digest[:2]}/{digest}" if self._prefix else f"{digest[:2]}/{digest}"

    def put(self, data: bytes) -> str:
        ref = blob_ref(data)
        # Same content, same key: a second writer of one blob overwrites it with the same bytes.
        self._client.put_object(Bucket=self._bucket, Key=self._key(ref), Body=data)
        return ref

    def get(self, ref: str) -> bytes:
        try:
            data = self._client.get_object(Bucket=self._bucket, Key=self._key(ref))["Body"].read()
        except self._client.exceptions.NoSuchKey:
            raise BlobNotFound(f"blob {ref} is not in {self.location}") from None
        if blob_ref(data) != ref:
            raise BlobNotFound(f"blob {ref} in {self.location} is damaged (its content has another hash)")
        return data


def open_blob_store(location: str, *, endpoint_url: str | None = None) -> BlobStore:
    """The store at ``location``: a folder path, or ``s3://bucket/prefix`` (``endpoint_url`` for non-AWS stores)."""
    if location.startswith("s3://"):
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"tools.blob_store {location!r}: name a bucket, as in s3://bucket/prefix")
        try:
            import boto3
        except ImportError:
            raise ValueError(f"tools.blob_store {location!r} needs boto3: uv sync --extra s3") from None
        return S3BlobStore(boto3.client("s3", endpoint_url=endpoint_url), bucket, prefix)
    if "://" in location and not location.startswith("file://"):
        scheme = location.split("://", 1)[0]
        raise ValueError(
            f"tools.blob_store {location!r}: {scheme}:// is not a store; use a folder or s3://bucket/prefix"
        )
    return LocalBlobStore(Path(location.removeprefix("file://")).expanduser().resolve())
