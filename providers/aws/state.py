"""Where agents keep state: a DynamoDB table, an S3 bucket, and optionally a Redis cache.

- Table: on-demand (an idle fleet costs nothing), point-in-time recovery, a TTL attribute
  (`expires_at`, epoch seconds) so idempotency records and leases expire by themselves, and
  encryption at rest under the AWS owned key (free; the AWS managed KMS key bills every request).
- Bucket: all public access blocked, objects owned by the bucket owner (no ACLs), SSE-S3
  encryption by default, and a bucket policy that denies any request not made over TLS.
- Cache (`state.cache`): ElastiCache Redis in the fleet's private subnets, encrypted in transit
  (agents connect with `rediss://`) and at rest; its security group admits the Redis port from
  the agents' security group and from nothing else. One node: it is a cache, not the state of
  record (that is the table), so losing it costs warm-up, not data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from agentfleet.components.schema import FleetConfig
from agentfleet.providers.aws.names import FleetNames, tags

#: The partition key the runtime uses (agent/state/dynamodb.py KEY_ATTRIBUTE; a test holds them equal).
TABLE_KEY = "key"
TTL_ATTRIBUTE = "expires_at"
REDIS_PORT = 6379
CACHE_NODE_TYPE = "cache.t4g.micro"


@dataclass
class State:
    table: aws.dynamodb.Table | None = None
    bucket: aws.s3.Bucket | None = None
    cache: aws.elasticache.ReplicationGroup | None = None
    cache_url: pulumi.Output[str] | None = None


def tls_only_policy(bucket_arn: str) -> str:
    """Deny every request to the bucket or its objects that is not made over TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def build_state(
    parent: pulumi.Resource,
    config: FleetConfig,
    *,
    vpc_id: pulumi.Input[str],
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
    agents_security_group_id: pulumi.Input[str],
) -> State:
    names = FleetNames(config.name)
    opts = pulumi.ResourceOptions(parent=parent)
    state = State()
    if config.state.table:
        state.table = aws.dynamodb.Table(
            names.state_table,
            name=names.state_table,
            billing_mode="PAY_PER_REQUEST",
            hash_key=TABLE_KEY,
            attributes=[aws.dynamodb.TableAttributeArgs(name=TABLE_KEY, type="S")],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=TTL_ATTRIBUTE, enabled=True),
            # "If disabled (false) or not specified, server-side encryption is set to AWS owned key"
            # (DynamoDB SSESpecification): encrypted at rest, no KMS charges. Explicit, so a table
            # created under the AWS managed key (`enabled=True`) is switched back on the next update.
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=False),
            tags=tags(config.name),
            opts=opts,
        )
    if config.state.bucket:
        state.bucket = _bucket(names, opts)
    if config.state.cache:
        _cache(names, state, vpc_id, subnet_ids, agents_security_group_id, opts)
    return state


def _bucket(names: FleetNames, opts: pulumi.ResourceOptions) -> aws.s3.Bucket:
    bucket = aws.s3.Bucket(
        names.prefixed("bucket"), bucket_prefix=names.bucket_prefix, tags=tags(names.fleet), opts=opts
    )
    pab = aws.s3.BucketPublicAccessBlock(
        names.prefixed("bucket-public-access"),
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    aws.s3.BucketOwnershipControls(
        names.prefixed("bucket-ownership"),
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=opts,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        names.prefixed("bucket-encryption"),
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=(
                    aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                ),
                bucket_key_enabled=True,
            )
        ],
        opts=opts,
    )
    aws.s3.BucketPolicy(
        names.prefixed("bucket-tls-only"),
        bucket=bucket.id,
        policy=bucket.arn.apply(tls_only_policy),
        # A bucket policy is rejected while Block Public Access is being applied; order them.
        opts=pulumi.ResourceOptions(parent=opts.parent, depends_on=[pab]),
    )
    return bucket


def _cache(
    names: FleetNames,
    state: State,
    vpc_id: pulumi.Input[str],
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
    agents_security_group_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> None:
    subnets = aws.elasticache.SubnetGroup(
        names.prefixed("cache-subnets"),
        name=names.cache,
        description=f"agentfleet {names.fleet}: the cache lives in the agents' private subnets",
        subnet_ids=subnet_ids,
        tags=tags(names.fleet),
        opts=opts,
    )
    sg = aws.ec2.SecurityGroup(
        names.prefixed("cache-sg"),
        name=names.cache,
        description=f"agentfleet {names.fleet} cache: Redis from the agents only",
        vpc_id=vpc_id,
        tags=tags(names.fleet, Name=names.cache),
        opts=opts,
    )
    aws.vpc.SecurityGroupIngressRule(
        names.prefixed("cache-from-agents"),
        security_group_id=sg.id,
        referenced_security_group_id=agents_security_group_id,
        ip_protocol="tcp",
        from_port=REDIS_PORT,
        to_port=REDIS_PORT,
        description="Redis (TLS) from the agents of this fleet",
        opts=opts,
    )
    cache = aws.elasticache.ReplicationGroup(
        names.prefixed("cache"),
        replication_group_id=names.cache,
        description=f"agentfleet {names.fleet} cache",
        engine="redis",
        node_type=CACHE_NODE_TYPE,
        num_cache_clusters=1,
        port=REDIS_PORT,
        subnet_group_name=subnets.name,
        security_group_ids=[sg.id],
        at_rest_encryption_enabled=True,
        transit_encryption_enabled=True,
        auto_minor_version_upgrade=True,
        tags=tags(names.fleet),
        opts=opts,
    )
    state.cache = cache
    state.cache_url = cache.primary_endpoint_address.apply(lambda host: f"rediss://{host}:{REDIS_PORT}")
