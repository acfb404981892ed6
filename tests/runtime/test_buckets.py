"""The bucket stores behave alike: S3 on moto server, Blob on Azurite, GCS on an SDK-boundary fake."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from agentfleet.agent.bucket.base import Bucket, ObjectNotFound
from agentfleet.agent.bucket.blob import BlobBucket
from agentfleet.agent.bucket.gcs import GcsBucket
from agentfleet.agent.bucket.s3 import S3Bucket
from tests.runtime.fakes.gcs import FakeStorageClient
from tests.runtime.peers import Azurite, MotoServer


def make_s3(request: pytest.FixtureRequest) -> Bucket:
    server: MotoServer = request.getfixturevalue("moto_server")
    client: Any = server.client("s3")
    name = f"bucket-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=name)
    return S3Bucket(client, name)


def make_blob(request: pytest.FixtureRequest) -> Bucket:
    from azure.storage.blob import BlobServiceClient

    peer: Azurite = request.getfixturevalue("azurite")
    service = BlobServiceClient.from_connection_string(peer.connection_string)
    container = service.create_container(f"c{uuid.uuid4().hex[:12]}")
    return BlobBucket(container)


def make_gcs(request: pytest.FixtureRequest) -> Bucket:
    return GcsBucket(FakeStorageClient(), "results")


MAKERS: dict[str, Callable[[pytest.FixtureRequest], Bucket]] = {
    "s3-moto": make_s3,
    "blob-azurite": make_blob,
    "gcs-fake": make_gcs,
}


@pytest.fixture(params=sorted(MAKERS))
def bucket(request: pytest.FixtureRequest) -> Bucket:
    return MAKERS[request.param](request)


def test_put_then_get_round_trips_bytes(bucket: Bucket) -> None:
    payload = bytes(range(256)) * 4
    bucket.put("results/run-1/out.bin", payload)
    assert bucket.get("results/run-1/out.bin") == payload


def test_put_replaces(bucket: Bucket) -> None:
    bucket.put("k", b"one")
    bucket.put("k", b"two")
    assert bucket.get("k") == b"two"


def test_missing_object_is_object_not_found(bucket: Bucket) -> None:
    with pytest.raises(ObjectNotFound) as raised:
        bucket.get("nope/missing.txt")
    assert raised.value.key == "nope/missing.txt"
    assert isinstance(raised.value, KeyError)


def test_list_filters_by_prefix_and_sorts(bucket: Bucket) -> None:
    for key in ("b/2", "a/1", "b/1", "c"):
        bucket.put(key, key.encode())
    assert bucket.list("b/") == ["b/1", "b/2"]
    assert bucket.list() == ["a/1", "b/1", "b/2", "c"]
    assert bucket.list("zzz") == []


def test_blob_from_settings_takes_the_container_url() -> None:
    from agentfleet.agent.bucket.blob import from_settings
    from agentfleet.agent.settings import Settings

    url = "https://acct.blob.core.windows.net/results"
    bucket = from_settings(Settings(backend="servicebus", queue="q", bucket=url))
    assert (bucket.container.account_name, bucket.container.container_name) == ("acct", "results")
    with pytest.raises(ValueError, match="AGENTFLEET_BUCKET"):
        from_settings(Settings(backend="servicebus", queue="q", bucket="results"))


def test_s3_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentfleet.agent.bucket.s3 import from_settings
    from agentfleet.agent.settings import Settings

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bucket = from_settings(Settings(backend="sqs", queue="q", bucket="fleet-results", region="eu-west-1"))
    assert (bucket.bucket, bucket.client.meta.region_name) == ("fleet-results", "eu-west-1")


@pytest.mark.parametrize(
    "module", ["agentfleet.agent.bucket.s3", "agentfleet.agent.bucket.blob", "agentfleet.agent.bucket.gcs"]
)
def test_importing_a_bucket_module_loads_no_cloud_sdk(module: str) -> None:
    """The SDK is imported when the bucket is opened, never by importing the runtime."""
    from tests.runtime.peers import sdks_loaded_by_import

    assert sdks_loaded_by_import(module) == []


def test_the_gcs_fake_takes_the_sdk_calls() -> None:
    from google.cloud.storage import Blob, Client  # type: ignore[import-untyped]
    from google.cloud.storage import Bucket as GcsSdkBucket

    from tests.runtime.fakes import surface_mismatches
    from tests.runtime.fakes.gcs import FakeBlob, FakeBucket

    assert surface_mismatches(FakeStorageClient, Client, ["bucket", "list_blobs"]) == []
    assert surface_mismatches(FakeBucket, GcsSdkBucket, ["blob"]) == []
    assert surface_mismatches(FakeBlob, Blob, ["upload_from_string", "download_as_bytes"]) == []
