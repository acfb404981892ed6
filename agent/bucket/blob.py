"""An Azure Blob container as the fleet's bucket (azure-storage-blob).

AGENTFLEET_BUCKET is the container URL (https://ACCOUNT.blob.core.windows.net/CONTAINER); the
agent authenticates with its managed identity (DefaultAzureCredential).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentfleet.agent.bucket.base import Bucket, BucketError, ObjectNotFound

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

    from agentfleet.agent.settings import Settings


class BlobBucket(Bucket):
    """One blob container through a ContainerClient."""

    name = "blob"

    def __init__(self, container: ContainerClient) -> None:
        self.container = container

    def get(self, key: str) -> bytes:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            return bytes(self.container.download_blob(key).readall())
        except ResourceNotFoundError:
            raise ObjectNotFound(key) from None
        except AzureError as error:
            raise BucketError(f"Blob get {key}: {error}") from error

    def put(self, key: str, data: bytes) -> None:
        from azure.core.exceptions import AzureError

        try:
            self.container.upload_blob(key, data, overwrite=True)
        except AzureError as error:
            raise BucketError(f"Blob put {key}: {error}") from error

    def list(self, prefix: str = "") -> list[str]:
        from azure.core.exceptions import AzureError

        try:
            names = self.container.list_blob_names(name_starts_with=prefix or None)
            return sorted(str(name) for name in names)
        except AzureError as error:
            raise BucketError(f"Blob list {prefix}: {error}") from error

    def close(self) -> None:
        self.container.close()


def from_settings(settings: Settings) -> BlobBucket:
    from azure.identity import DefaultAzureCredential
    from azure.storage.blob import ContainerClient

    url = settings.bucket
    if not url.startswith(("https://", "http://")) or url.rstrip("/").count("/") < 3:
        raise ValueError(
            f"AGENTFLEET_BUCKET={url!r} must be the container URL https://ACCOUNT.blob.core.windows.net/CONTAINER"
        )
    return BlobBucket(ContainerClient.from_container_url(url, credential=DefaultAzureCredential()))
