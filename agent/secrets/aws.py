"""AWS Secrets Manager and SSM Parameter Store, with the agent's instance role (boto3).

A Secrets Manager ARN is read with `GetSecretValue` (its `SecretString`); an SSM parameter ARN or
name with `GetParameter` and `WithDecryption`, so a SecureString arrives decrypted. The region
comes from the ARN, else from the agent's region. boto3's own retries cover throttling.
"""

from __future__ import annotations

import os
from typing import Any

from agentfleet.agent.contract import REGION
from agentfleet.agent.secrets.base import SecretError


class AwsSecrets:
    def __init__(self, clients: dict[tuple[str, str], Any] | None = None) -> None:
        self._clients: dict[tuple[str, str], Any] = clients if clients is not None else {}

    def _client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            import boto3

            self._clients[key] = boto3.client(service, region_name=region)  # type: ignore[call-overload]
        return self._clients[key]

    def read(self, reference: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        parts = reference.split(":")
        region = parts[3] if reference.startswith("arn:") and len(parts) > 3 and parts[3] else _region()
        try:
            if reference.startswith("arn:") and parts[2] == "secretsmanager":
                answer = self._client("secretsmanager", region).get_secret_value(SecretId=reference)
                value = answer.get("SecretString")
                if value is None:
                    raise SecretError(f"{reference} holds binary data; store the secret as a string")
                return str(value)
            answer = self._client("ssm", region).get_parameter(Name=reference, WithDecryption=True)
            return str(answer["Parameter"]["Value"])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise SecretError(f"{reference} could not be read: {code}") from None
        except BotoCoreError as exc:
            raise SecretError(f"{reference} could not be read: {type(exc).__name__}") from None


def _region() -> str:
    region = os.environ.get(REGION) or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise SecretError(f"no region to read an SSM parameter name in: set {REGION}")
    return region
