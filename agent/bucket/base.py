"""A tiny object store behind `ctx.bucket` (S3, Blob container, GCS bucket, a local directory).

Three verbs are enough for agents that read inputs and write results; anything richer belongs
to the cloud SDK, which a handler can still use directly.
"""

from __future__ import annotations

import abc


class BucketError(RuntimeError):
    """An object-store call failed."""


class ObjectNotFound(BucketError, KeyError):
    """No object under that key."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no object {key!r}")


class Bucket(abc.ABC):
    """Objects addressed by '/'-separated keys."""

    #: Store name: local, s3, blob, gcs.
    name: str = ""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes. Raises ObjectNotFound."""

    @abc.abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Create or replace an object."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Keys starting with `prefix`, sorted."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections."""
