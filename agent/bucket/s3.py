"""S3 as the fleet's bucket (boto3). AGENTFLEET_BUCKET is the bucket name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentfleet.agent.bucket.base import Bucket, BucketError, ObjectNotFound

if TYPE_CHECKING:
    from agentfleet.agent.settings import Settings


class S3Bucket(Bucket):
    """One S3 bucket through a boto3 S3 client."""

    name = "s3"

    def __init__(self, client: Any, bucket: str) -> None:
        if not bucket:
            raise ValueError("AGENTFLEET_BUCKET is empty: the S3 bucket store needs the bucket name")
        self.client = client
        self.bucket = bucket

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            return bytes(body.read())
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in ("NoSuchKey", "404"):
                raise ObjectNotFound(key) from None
            raise BucketError(f"S3 get {self.bucket}/{key}: {error}") from error
        except BotoCoreError as error:
            raise BucketError(f"S3 unreachable: {error}") from error

    def put(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except (BotoCoreError, ClientError) as error:
            raise BucketError(f"S3 put {self.bucket}/{key}: {error}") from error

    def list(self, prefix: str = "") -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        keys: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                keys.extend(str(obj["Key"]) for obj in page.get("Contents", []))
        except (BotoCoreError, ClientError) as error:
            raise BucketError(f"S3 list {self.bucket}/{prefix}: {error}") from error
        return sorted(keys)

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()


def from_settings(settings: Settings) -> S3Bucket:
    """Region from AGENTFLEET_REGION; endpoint override from boto3's AWS_ENDPOINT_URL_S3."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 5, "mode": "standard"})
    return S3Bucket(boto3.client("s3", region_name=settings.region or None, config=config), settings.bucket)
