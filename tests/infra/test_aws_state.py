"""State: on-demand DynamoDB with PITR and TTL, a locked-down S3 bucket, an encrypted Redis."""

from __future__ import annotations

import json

from agentfleet.providers.aws.state import TTL_ATTRIBUTE
from tests.infra.aws_helpers import aws_synth


def test_table_is_on_demand_recoverable_and_expires_records() -> None:
    table = aws_synth().named("moodring-state").inputs
    assert table["name"] == "moodring-state"
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["ttl"] == {"attributeName": TTL_ATTRIBUTE, "enabled": True}
    assert table["attributes"] == [{"name": table["hashKey"], "type": "S"}]


def test_table_is_encrypted_with_the_free_aws_owned_key() -> None:
    # DynamoDB: "If disabled (false) or not specified, server-side encryption is set to AWS owned
    # key"; enabled=true means the AWS managed KMS key, billed per request.
    table = aws_synth().named("moodring-state").inputs
    assert table["serverSideEncryption"] == {"enabled": False}
    assert "kmsKeyArn" not in table["serverSideEncryption"]


def test_bucket_blocks_public_access_encrypts_and_requires_tls() -> None:
    s = aws_synth()
    bucket = s.named("moodring-bucket")
    pab = s.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert pab["bucket"] == bucket.id
    assert all(
        pab[k] is True
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    sse = s.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs
    assert sse["bucket"] == bucket.id
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    policy = s.one("aws:s3/bucketPolicy:BucketPolicy")
    assert policy.inputs["bucket"] == bucket.id
    (deny,) = json.loads(policy.inputs["policy"])["Statement"]
    arn = bucket.outputs["arn"]
    assert deny["Effect"] == "Deny"
    assert deny["Resource"] == [arn, f"{arn}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert s.named("moodring-bucket-public-access").urn in policy.depends_on


def test_cache_is_encrypted_in_transit_and_at_rest() -> None:
    cache = aws_synth({"state": {"cache": True}}).named("moodring-cache").inputs
    assert cache["engine"] == "redis"
    assert cache["transitEncryptionEnabled"] is True
    assert cache["atRestEncryptionEnabled"] is True


def test_state_the_config_disables_is_not_created() -> None:
    s = aws_synth({"state": {"table": False, "bucket": False}})
    assert s.of_type("aws:dynamodb/table:Table") == []
    assert s.of_type("aws:s3/bucket:Bucket") == []
    assert s.of_type("aws:elasticache/replicationGroup:ReplicationGroup") == []
    assert s.outputs["state_table"] is None and s.outputs["bucket"] is None


def test_table_key_is_the_one_the_runtime_reads_and_writes() -> None:
    from agentfleet.agent.state.dynamodb import KEY_ATTRIBUTE

    table = aws_synth().named("moodring-state").inputs
    assert table["hashKey"] == KEY_ATTRIBUTE
