"""`agent.secrets` on AWS: values into Secrets Manager, and the grants to read exactly those.

- A value (a Pulumi secret in the stack config) becomes a Secrets Manager secret named
  `agentfleet/{fleet}/{VARIABLE}` with one version holding it. The value reaches the provider only
  as a Pulumi secret: encrypted in the state, `[secret]` in every preview; the agent is told the
  secret's ARN, never the value.
- A `{ref: ...}` names a Secrets Manager secret or an SSM parameter the user keeps
  (references.py says which IAM resource each form grants).

Both are encrypted under the AWS managed keys unless the user chose otherwise. Reading needs no
KMS grant then: GetSecretValue needs `kms:Decrypt` "only if you use a customer-managed Amazon Web
Services KMS key to encrypt the secret", and "The AWS managed key for Parameter Store (aws/ssm)
grants Decrypt permission to all IAM principals in the AWS account". A reference encrypted under
a customer managed key needs `kms:Decrypt` on that key for the agents' role, which the user grants
(the key is theirs; docs/aws.md, "Secrets").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from agentfleet.components.problems import ConfigError, ConfigProblem
from agentfleet.components.schema import FleetConfig
from agentfleet.components.secrets import secret_references, secrets_to_store
from agentfleet.providers.aws import references
from agentfleet.providers.aws.names import FleetNames, tags

#: A secret deleted with its fleet is gone at once, not kept 30 days: its value lives on in the
#: stack's encrypted config, and a kept name blocks the next `pulumi up` of the same fleet.
#: "This value can be `0` to force deletion without recovery or range from `7` to `30` days. The
#: default value is `30`." (pulumi aws.secretsmanager.Secret, recovery_window_in_days)
RECOVERY_WINDOW_DAYS = 0


@dataclass
class FleetSecrets:
    """What the agents are told and granted, and what must exist before the first one starts."""

    #: Variable name -> the reference the agent reads (agent/contract.py SECRETS).
    references: pulumi.Output[dict[str, str]]
    #: Secrets Manager ARNs (or `-??????` patterns) the role may read.
    secret_arns: list[pulumi.Input[str]] = field(default_factory=list)
    #: SSM parameter ARNs the role may read.
    parameter_arns: list[pulumi.Input[str]] = field(default_factory=list)
    #: The stored versions: an agent started before its value exists would fail to start.
    versions: list[pulumi.Resource] = field(default_factory=list)


def secret_name(fleet: str, variable: str) -> str:
    """Secrets Manager name of a stored value. A variable name has no hyphen, so the name never ends
    in one plus six characters, which Secrets Manager would mistake for its own ARN suffix."""
    return f"agentfleet/{fleet}/{variable}"


def build_secrets(parent: pulumi.Resource, config: FleetConfig, *, region: str) -> FleetSecrets | None:
    """The fleet's secrets, or None (nothing created, nothing granted) when it has none."""
    values, refs = secrets_to_store(config), secret_references(config)
    if not values and not refs:
        return None
    fleet = config.name
    names = FleetNames(fleet)
    opts = pulumi.ResourceOptions(parent=parent)
    told: dict[str, pulumi.Input[str]] = dict(refs)
    secret_arns: list[pulumi.Input[str]] = []
    parameter_arns: list[pulumi.Input[str]] = []
    versions: list[pulumi.Resource] = []
    for variable, value in sorted(values.items()):
        secret = aws.secretsmanager.Secret(
            names.prefixed(f"secret-{variable}"),
            name=secret_name(fleet, variable),
            description=f"agentfleet {fleet}: {variable} for the agents",
            recovery_window_in_days=RECOVERY_WINDOW_DAYS,
            tags=tags(fleet),
            opts=opts,
        )
        versions.append(
            aws.secretsmanager.SecretVersion(
                names.prefixed(f"secret-{variable}-value"),
                secret_id=secret.id,
                secret_string=value,
                opts=opts,
            )
        )
        told[variable] = secret.arn
        secret_arns.append(secret.arn)
    grants = [_grant(variable, ref) for variable, ref in sorted(refs.items())]
    # A parameter by name is in the fleet's region and the deploying account (asked only then).
    partition, account = _account(parent) if any(g.by_name for g in grants) else ("", "")
    for g in grants:
        if g.by_name:
            parameter_arns.append(
                references.parameter_arn(g.resource, partition=partition, region=region, account=account)
            )
        else:
            (parameter_arns if g.store == "ssm" else secret_arns).append(g.resource)
    return FleetSecrets(
        references=pulumi.Output.all(**told).apply(lambda resolved: dict(sorted(resolved.items()))),
        secret_arns=secret_arns,
        parameter_arns=parameter_arns,
        versions=versions,
    )


def _grant(variable: str, reference: str) -> references.Grant:
    grant = references.grant_for(reference)
    if grant is None:  # settings.validate reports it first, before anything is registered
        raise ConfigError(
            [ConfigProblem(f"fleet.agent.secrets.{variable}.ref", reference, f"must be {references.FORMS}")]
        )
    return grant


def _account(parent: pulumi.Resource) -> tuple[str, str]:
    """(partition, account id) of the deploying identity, through the component's provider."""
    caller = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=parent))
    return caller.arn.split(":")[1], caller.account_id
