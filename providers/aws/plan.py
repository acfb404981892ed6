"""What `agentfleet plan` shows for each AWS resource type: the settings a reviewer cares about.

Paths are dotted input keys as the provider names them (camelCase); `[*]` maps over a list, and a
JSON string (a policy, a redrive policy) is looked into as the object it encodes.
"""

from __future__ import annotations

KEY_SETTINGS: dict[str, list[str]] = {
    "aws:sqs/queue:Queue": [
        "visibilityTimeoutSeconds",
        "messageRetentionSeconds",
        "receiveWaitTimeSeconds",
        "redrivePolicy.maxReceiveCount",
        "redrivePolicy.deadLetterTargetArn",
        "sqsManagedSseEnabled",
    ],
    "aws:autoscaling/group:Group": [
        "minSize",
        "maxSize",
        "desiredCapacity",
        "healthCheckType",
        "healthCheckGracePeriod",
        "defaultInstanceWarmup",
        "instanceRefresh.strategy",
        "instanceRefresh.preferences.scaleInProtectedInstances",
        "capacityRebalance",
        "mixedInstancesPolicy.launchTemplate.overrides[*].instanceType",
        "mixedInstancesPolicy.instancesDistribution.onDemandBaseCapacity",
        "mixedInstancesPolicy.instancesDistribution.onDemandPercentageAboveBaseCapacity",
        "vpcZoneIdentifiers",
    ],
    "aws:autoscaling/policy:Policy": [
        "policyType",
        "targetTrackingConfiguration.targetValue",
        "targetTrackingConfiguration.customizedMetricSpecification.metrics[*].expression",
        "adjustmentType",
        "stepAdjustments[*].scalingAdjustment",
    ],
    "aws:autoscaling/lifecycleHook:LifecycleHook": [
        "lifecycleTransition",
        "heartbeatTimeout",
        "defaultResult",
    ],
    "aws:ec2/launchTemplate:LaunchTemplate": [
        "instanceType",
        "imageId",
        "monitoring.enabled",
        "metadataOptions.httpTokens",
        "networkInterfaces[*].associatePublicIpAddress",
        "iamInstanceProfile.arn",
    ],
    "aws:dynamodb/table:Table": [
        "billingMode",
        "hashKey",
        "pointInTimeRecovery.enabled",
        "ttl.attributeName",
        "serverSideEncryption.enabled",
    ],
    "aws:s3/bucket:Bucket": ["bucketPrefix"],
    "aws:secretsmanager/secret:Secret": ["name", "recoveryWindowInDays"],
    "aws:secretsmanager/secretVersion:SecretVersion": ["secretString"],
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ["blockPublicAcls", "blockPublicPolicy"],
    "aws:s3/bucketPolicy:BucketPolicy": ["policy.Statement[*].Sid"],
    "aws:elasticache/replicationGroup:ReplicationGroup": [
        "nodeType",
        "transitEncryptionEnabled",
        "atRestEncryptionEnabled",
    ],
    "aws:cloudwatch/metricAlarm:MetricAlarm": [
        "metricName",
        "metricQueries[*].expression",
        "comparisonOperator",
        "threshold",
        "datapointsToAlarm",
        "evaluationPeriods",
    ],
    "aws:cloudwatch/logGroup:LogGroup": ["retentionInDays"],
    "aws:iam/rolePolicy:RolePolicy": ["policy.Statement[*].Sid", "policy.Statement[*].Resource"],
    "aws:ec2/vpc:Vpc": ["cidrBlock"],
    "aws:ec2/subnet:Subnet": ["cidrBlock", "availabilityZone", "mapPublicIpOnLaunch"],
    "aws:ec2/vpcEndpoint:VpcEndpoint": ["serviceName", "vpcEndpointType"],
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": [
        "ipProtocol",
        "fromPort",
        "toPort",
        "referencedSecurityGroupId",
    ],
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ["ipProtocol", "cidrIpv4"],
    "aws:ec2/securityGroup:SecurityGroup": ["name", "vpcId"],
    "aws:ec2/natGateway:NatGateway": ["subnetId"],
    "aws:ec2/routeTable:RouteTable": ["routes[*].cidrBlock", "routes[*].natGatewayId", "routes[*].gatewayId"],
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ["subnetId", "routeTableId"],
    "aws:ec2/internetGateway:InternetGateway": ["vpcId"],
    "aws:ec2/eip:Eip": ["domain"],
    "aws:iam/role:Role": ["name", "assumeRolePolicy.Statement[*].Principal.Service"],
    "aws:iam/instanceProfile:InstanceProfile": ["name", "role"],
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": ["redriveAllowPolicy.redrivePermission"],
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": [
        "rules[*].applyServerSideEncryptionByDefault.sseAlgorithm"
    ],
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ["rule.objectOwnership"],
    "aws:elasticache/subnetGroup:SubnetGroup": ["subnetIds"],
    "aws:sns/topic:Topic": ["name"],
    "aws:cloudwatch/dashboard:Dashboard": ["dashboardName"],
}
