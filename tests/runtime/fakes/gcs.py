"""A fake `google.cloud.storage.Client` for the GCS bucket.

Mirrors google-cloud-storage's documented surface the bucket uses: `Client.bucket(name)` returns a
Bucket handle without a request; `Bucket.blob(name)` a Blob handle; `Blob.upload_from_string(data)`
creates or replaces the object; `Blob.download_as_bytes()` raises
`google.api_core.exceptions.NotFound` (HTTP 404) for a missing object; `Client.list_blobs(bucket,
prefix=...)` yields blobs whose names start with the prefix, in lexicographic order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class FakeBlob:
    bucket: FakeBucket
    name: str

    def upload_from_string(self, data: bytes | str) -> None:
        self.bucket.objects[self.name] = data.encode() if isinstance(data, str) else bytes(data)

    def download_as_bytes(self) -> bytes:
        from google.api_core.exceptions import NotFound

        try:
            return self.bucket.objects[self.name]
        except KeyError:
            raise NotFound(f"No such object: {self.bucket.name}/{self.name}") from None


@dataclass
class FakeBucket:
    name: str
    objects: dict[str, bytes] = field(default_factory=dict)

    def blob(self, blob_name: str) -> FakeBlob:
        return FakeBlob(self, blob_name)


class FakeStorageClient:
    def __init__(self) -> None:
        self.buckets: dict[str, FakeBucket] = {}

    def bucket(self, bucket_name: str) -> FakeBucket:
        return self.buckets.setdefault(bucket_name, FakeBucket(bucket_name))

    def list_blobs(self, bucket_or_name: str, prefix: str | None = None) -> Iterator[FakeBlob]:
        b = self.bucket(bucket_or_name)
        for name in sorted(b.objects):
            if name.startswith(prefix or ""):
                yield FakeBlob(b, name)

    def close(self) -> None:
        return None
