"""A Google Cloud Storage bucket as the fleet's bucket (google-cloud-storage).

AGENTFLEET_BUCKET is the bucket name; credentials are the pod's Workload Identity (ADC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentfleet.agent.bucket.base import Bucket, BucketError, ObjectNotFound

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings


class GcsBucket(Bucket):
    """One GCS bucket through a google.cloud.storage.Client."""

    name = "gcs"

    def __init__(self, client: Any, bucket: str) -> None:
        if not bucket:
            raise ValueError("AGENTFLEET_BUCKET is empty: the GCS bucket store needs the bucket name")
        self.client = client
        self.bucket_name = bucket
        self._bucket = client.bucket(bucket)

    def get(self, key: str) -> bytes:
        from google.api_core import exceptions

        try:
            return bytes(self._bucket.blob(key).download_as_bytes())
        except exceptions.NotFound:
            raise ObjectNotFound(key) from None
        except exceptions.GoogleAPIError as error:
            raise BucketError(f"GCS get gs://{self.bucket_name}/{key}: {error}") from error

    def put(self, key: str, data: bytes) -> None:
        from google.api_core import exceptions

        try:
            self._bucket.blob(key).upload_from_string(data)
        except exceptions.GoogleAPIError as error:
            raise BucketError(f"GCS put gs://{self.bucket_name}/{key}: {error}") from error

    def list(self, prefix: str = "") -> list[str]:
        from google.api_core import exceptions

        try:
            blobs = self.client.list_blobs(self.bucket_name, prefix=prefix or None)
            return sorted(str(b.name) for b in blobs)
        except exceptions.GoogleAPIError as error:
            raise BucketError(f"GCS list gs://{self.bucket_name}/{prefix}: {error}") from error

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()


def from_settings(settings: Settings) -> GcsBucket:
    from google.cloud.storage import Client  # type: ignore[import-untyped]

    return GcsBucket(Client(project=settings.region or None), settings.bucket)
