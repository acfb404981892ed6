"""Realistic AWS answers for Pulumi's mock runtime (`agentfleet plan`, tests).

Every resource gets the computed outputs the real provider returns and the program reads: ARNs in
each service's own format, queue URLs, ids with the real prefixes (vpc-, subnet-, sg-, lt-),
the launch template's version, the cache's endpoint. Invokes answer with what an account in the
configured region would (`aws:region`, default us-east-1; account 123456789012).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


EC2_ARN_KINDS = {
    "vpc": "vpc",
    "subnet": "subnet",
    "sg": "security-group",
    "igw": "internet-gateway",
    "rtb": "route-table",
    "vpce": "vpc-endpoint",
    "sgr": "security-group-rule",
}


def _region(config: Mapping[str, str]) -> str:
    return config.get("aws:region", DEFAULT_REGION)


def _short(region: str) -> str:
    """ElastiCache's endpoint spelling of a region: us-east-1 -> use1."""
    parts = region.split("-")
    return "".join(p[0] for p in parts[:-1]) + parts[-1] if len(parts) == 3 else region


def _hex(name: str, n: int = 17) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:n]


def _suffix(name: str) -> str:
    """Six letters and digits, as Secrets Manager appends to a secret's name in its ARN."""
    digest = hashlib.sha256(name.encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:6])


def resource_outputs(
    typ: str, name: str, inputs: dict[str, Any], config: Mapping[str, str]
) -> tuple[str, dict[str, Any]]:
    """(id, computed outputs) for one resource registration, keyed by the provider's camelCase names."""
    region = _region(config)
    arn = f"arn:aws:{{service}}:{region}:{ACCOUNT}:{{resource}}"
    physical = str(inputs.get("name") or f"{name}-{_hex(name, 7)}")

    if typ == "aws:secretsmanager/secret:Secret":
        # "Secrets Manager constructs the last part of the secret ARN by appending a dash and six
        # random alphanumeric characters at the end of the secret name" (Secrets Manager user guide).
        secret_arn = arn.format(service="secretsmanager", resource=f"secret:{physical}-{_suffix(name)}")
        return secret_arn, {"name": physical, "arn": secret_arn}
    if typ == "aws:secretsmanager/secretVersion:SecretVersion":
        version = _hex(name, 32)
        version_id = f"{version[:8]}-{version[8:12]}-{version[12:16]}-{version[16:20]}-{version[20:]}"
        return f"{inputs.get('secretId')}|{version_id}", {
            "arn": inputs.get("secretId"),
            "versionId": version_id,
            "versionStages": ["AWSCURRENT"],
        }
    if typ == "aws:ecr/repository:Repository":
        return physical, {
            "name": physical,
            "arn": arn.format(service="ecr", resource=f"repository/{physical}"),
            "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{physical}",
            "registryId": ACCOUNT,
        }
    if typ == "aws:sqs/queue:Queue":
        url = f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{physical}"
        return url, {"name": physical, "url": url, "arn": arn.format(service="sqs", resource=physical)}
    if typ == "aws:dynamodb/table:Table":
        return physical, {
            "name": physical,
            "arn": arn.format(service="dynamodb", resource=f"table/{physical}"),
            "streamArn": "",
        }
    if typ == "aws:s3/bucket:Bucket":
        bucket = str(inputs.get("bucket") or f"{inputs.get('bucketPrefix', name + '-')}{_hex(name, 12)}")
        return bucket, {
            "bucket": bucket,
            "arn": f"arn:aws:s3:::{bucket}",
            "bucketDomainName": f"{bucket}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
            "region": region,
        }
    if typ == "aws:autoscaling/group:Group":
        uuid = _hex(name, 32)
        group_id = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
        return physical, {
            "name": physical,
            "arn": arn.format(
                service="autoscaling", resource=f"autoScalingGroup:{group_id}:autoScalingGroupName/{physical}"
            ),
        }
    if typ == "aws:autoscaling/policy:Policy":
        return physical, {
            "name": physical,
            "arn": arn.format(
                service="autoscaling",
                resource=f"scalingPolicy:{_hex(name, 8)}"
                f":autoScalingGroupName/{inputs.get('autoscalingGroupName')}"
                f":policyName/{physical}",
            ),
        }
    if typ == "aws:autoscaling/lifecycleHook:LifecycleHook":
        return physical, {"name": physical}
    if typ == "aws:ec2/launchTemplate:LaunchTemplate":
        lt = f"lt-{_hex(name)}"
        return lt, {
            "name": physical,
            "arn": arn.format(service="ec2", resource=f"launch-template/{lt}"),
            "latestVersion": 1,
            "defaultVersion": 1,
        }
    if typ == "aws:iam/role:Role":
        return physical, {
            "name": physical,
            "arn": f"arn:aws:iam::{ACCOUNT}:role/{physical}",
            "uniqueId": f"AROA{_hex(name, 17).upper()}",
        }
    if typ == "aws:iam/instanceProfile:InstanceProfile":
        return physical, {"name": physical, "arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{physical}"}
    if typ == "aws:iam/rolePolicy:RolePolicy":
        return f"{inputs.get('role')}:{physical}", {"name": physical}
    if typ == "aws:cloudwatch/logGroup:LogGroup":
        return physical, {
            "name": physical,
            "arn": arn.format(service="logs", resource=f"log-group:{physical}"),
        }
    if typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
        return physical, {
            "name": physical,
            "arn": arn.format(service="cloudwatch", resource=f"alarm:{physical}"),
        }
    if typ == "aws:cloudwatch/dashboard:Dashboard":
        dash = str(inputs.get("dashboardName"))
        return dash, {"dashboardArn": f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{dash}"}
    if typ == "aws:sns/topic:Topic":
        topic_arn = arn.format(service="sns", resource=physical)
        return topic_arn, {"name": physical, "arn": topic_arn}
    if typ == "aws:elasticache/replicationGroup:ReplicationGroup":
        rg = str(inputs.get("replicationGroupId"))
        return rg, {
            "arn": arn.format(service="elasticache", resource=f"replicationgroup:{rg}"),
            "primaryEndpointAddress": f"master.{rg}.{_hex(name, 6)}.{_short(region)}.cache.amazonaws.com",
            "readerEndpointAddress": f"replica.{rg}.{_hex(name, 6)}.{_short(region)}.cache.amazonaws.com",
        }
    if typ == "aws:elasticache/subnetGroup:SubnetGroup":
        return physical, {
            "name": physical,
            "arn": arn.format(service="elasticache", resource=f"subnetgroup:{physical}"),
        }
    prefixes = {
        "aws:ec2/vpc:Vpc": "vpc",
        "aws:ec2/subnet:Subnet": "subnet",
        "aws:ec2/securityGroup:SecurityGroup": "sg",
        "aws:ec2/internetGateway:InternetGateway": "igw",
        "aws:ec2/natGateway:NatGateway": "nat",
        "aws:ec2/eip:Eip": "eipalloc",
        "aws:ec2/routeTable:RouteTable": "rtb",
        "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
        "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
    }
    if typ in prefixes:
        rid = f"{prefixes[typ]}-{_hex(name)}"
        kind = EC2_ARN_KINDS.get(prefixes[typ])
        out: dict[str, Any] = {}
        if kind:
            out["arn"] = arn.format(service="ec2", resource=f"{kind}/{rid}")
        if typ == "aws:ec2/eip:Eip":
            out.update({"allocationId": rid, "publicIp": "203.0.113.10"})
        if typ == "aws:ec2/vpc:Vpc":
            out.update(
                {
                    "defaultSecurityGroupId": f"sg-{_hex(name + 'default')}",
                    "mainRouteTableId": f"rtb-{_hex(name + 'main')}",
                }
            )
        if typ == "aws:ec2/securityGroup:SecurityGroup":
            out["name"] = physical
        return rid, out
    # Anything else (bucket settings, policies, redrive allow policy): an id is all the program reads.
    return f"{name}-{_hex(name, 8)}", {}


def invoke(token: str, args: dict[str, Any], config: Mapping[str, str]) -> dict[str, Any]:
    """The answer of one data source / function call, as the AWS provider would give it."""
    region = _region(config)
    if token == "aws:index/getRegion:getRegion":
        return {
            "id": region,
            "name": region,
            "region": region,
            "endpoint": f"ec2.{region}.amazonaws.com",
            "description": region,
        }
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        suffixes = ("a", "b", "c")
        return {
            "id": region,
            "region": region,
            "names": [f"{region}{s}" for s in suffixes],
            "zoneIds": [f"{_short(region)}-az{i + 1}" for i in range(len(suffixes))],
            "groupNames": [region],
            "state": args.get("state", "available"),
        }
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "accountId": ACCOUNT,
            "arn": f"arn:aws:iam::{ACCOUNT}:user/agentfleet-plan",
            "id": ACCOUNT,
            "userId": "AIDAEXAMPLEAGENTFLEET",
        }
    if token == "aws:index/getPartition:getPartition":
        return {
            "id": "aws",
            "partition": "aws",
            "dnsSuffix": "amazonaws.com",
            "reverseDnsPrefix": "com.amazonaws",
        }
    raise NotImplementedError(f"agentfleet AWS mocks: no answer for invoke {token}")


#: Made-up values that look real, labelled by `agentfleet plan`.
STAND_INS = {ACCOUNT: "AWS account id"}
