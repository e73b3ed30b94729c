"""The claim check against an S3-compatible server on loopback (moto's, the same API as AWS, MinIO and Ceph)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import msgspec
import pytest
from moto.server import ThreadedMotoServer

from streams.blobs import BlobNotFound, S3BlobStore, blob_ref, marker, open_blob_store, resolve_blobs

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "genesis", "AWS_SECRET_ACCESS_KEY": "genesis", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="results")
    try:
        yield endpoint
    finally:
        server.stop()


def test_result_round_trips_through_an_s3_bucket_when_the_blob_store_is_s3(s3_endpoint: str) -> None:
    store = open_blob_store("s3://results/genesis", endpoint_url=s3_endpoint)
    assert isinstance(store, S3BlobStore)
    value = {"rows": ["x" * 3_000_000]}
    data = msgspec.json.encode(value)
    ref = store.put(data)
    assert ref == blob_ref(data) and store.put(data) == ref  # the same content is the same object
    assert resolve_blobs({"input": marker(ref)}, store.get) == {"input": value}
    keys = [
        item["Key"]
        for item in boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket="results")["Contents"]
    ]
    assert keys == [f"genesis/{ref[7:9]}/{ref[7:]}"]


def test_missing_blob_names_the_bucket_when_it_was_never_stored(s3_endpoint: str) -> None:
    store = open_blob_store("s3://results/genesis", endpoint_url=s3_endpoint)
    with pytest.raises(BlobNotFound, match=r"is not in s3://results/genesis"):
        store.get("sha256:" + "0" * 64)
