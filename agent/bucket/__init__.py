"""`open_bucket(settings)`: the fleet's object store for the configured backend, imported lazily.

sqs -> S3, servicebus -> Blob, pubsub -> GCS, sqlite -> a local directory. Each module exposes
`from_settings(settings) -> Bucket`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from agentfleet.agent.bucket.base import Bucket, BucketError, ObjectNotFound

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings

#: Queue backend name -> bucket module under agent.bucket.
BUCKET_FOR_BACKEND = {"sqs": "s3", "servicebus": "blob", "pubsub": "gcs", "sqlite": "local"}

__all__ = ["Bucket", "BucketError", "ObjectNotFound", "open_bucket"]


def open_bucket(settings: Settings) -> Bucket | None:
    """The bucket named by AGENTFLEET_BUCKET, or None when the fleet has none."""
    if not settings.bucket:
        return None
    module = importlib.import_module(f"agentfleet.agent.bucket.{BUCKET_FOR_BACKEND[settings.backend]}")
    bucket: Bucket = module.from_settings(settings)
    return bucket
