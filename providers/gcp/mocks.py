"""Realistic answers for Pulumi's mock runtime on GCP (agentfleet plan, tests).

Every output the program reads is returned in the provider's wire form (camelCase): topic and
subscription ids in the `projects/P/topics/T` / `projects/P/subscriptions/S` form the GCP provider
uses, service-account emails and `projects/P/serviceAccounts/EMAIL` names, a cluster endpoint and
CA, a Redis host and port. The project number answered by `organizations.getProject` is fixed,
so tests can assert the exact Pub/Sub service agent it implies.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

#: The project number every mocked `getProject` answers (12 digits, like a real one).
PROJECT_NUMBER = "418093677215"
CLUSTER_ENDPOINT = "34.140.21.7"
CLUSTER_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIEmock\n-----END CERTIFICATE-----\n").decode()
REDIS_HOST = "10.64.0.3"
REDIS_PORT = 6379


def dns_endpoint(cluster: str, region: str) -> str:
    """A cluster's DNS endpoint in GKE's form (`gke-HASH-PROJECTNUMBER.REGION.gke.goog`)."""
    return f"gke-{_suffix(cluster)}{_suffix(region)}-{PROJECT_NUMBER}.{region}.gke.goog"


def _project(inputs: Mapping[str, Any], config: Mapping[str, str]) -> str:
    return str(inputs.get("project") or config.get("gcp:project") or "mock-project")


def _suffix(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:7]


def resource_outputs(
    typ: str, name: str, inputs: Mapping[str, Any], config: Mapping[str, str]
) -> tuple[str, dict[str, Any]]:
    project = _project(inputs, config)
    region = config.get("gcp:region", "europe-west1")
    given = str(inputs.get("name") or name)
    if typ == "gcp:pubsub/topic:Topic":
        rid = f"projects/{project}/topics/{given}"
        return rid, {"name": given, "project": project}
    if typ == "gcp:pubsub/subscription:Subscription":
        rid = f"projects/{project}/subscriptions/{given}"
        return rid, {"name": given, "project": project}
    if typ == "gcp:storage/bucket:Bucket":
        bucket = str(inputs.get("name") or f"{name}-{_suffix(name)}")
        return bucket, {
            "name": bucket,
            "url": f"gs://{bucket}",
            "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}",
        }
    if typ == "gcp:redis/instance:Instance":
        rid = f"projects/{project}/locations/{region}/instances/{given}"
        return rid, {
            "name": given,
            "host": REDIS_HOST,
            "port": REDIS_PORT,
            "currentLocationId": f"{region}-b",
        }
    if typ == "gcp:serviceaccount/account:Account":
        email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
        rid = f"projects/{project}/serviceAccounts/{email}"
        return rid, {
            "name": rid,
            "email": email,
            "member": f"serviceAccount:{email}",
            "uniqueId": "1" + _suffix(email),
        }
    if typ == "gcp:container/cluster:Cluster":
        rid = f"projects/{project}/locations/{region}/clusters/{given}"
        return rid, {
            "name": given,
            "endpoint": CLUSTER_ENDPOINT,
            "masterAuth": {"clusterCaCertificate": CLUSTER_CA, "clientCertificate": "", "clientKey": ""},
            "controlPlaneEndpointsConfig": {
                "dnsEndpointConfig": {
                    **((inputs.get("controlPlaneEndpointsConfig") or {}).get("dnsEndpointConfig") or {}),
                    "endpoint": dns_endpoint(given, region),
                },
                "ipEndpointsConfig": {"enabled": True},
            },
            "selfLink": f"https://container.googleapis.com/v1/{rid}",
        }
    if typ == "gcp:container/nodePool:NodePool":
        pool = str(inputs.get("name") or f"{name}-{_suffix(name)}")
        return f"{region}/{inputs.get('cluster')}/{pool}", {"name": pool}
    if typ == "gcp:secretmanager/secret:Secret":
        rid = f"projects/{project}/secrets/{inputs['secretId']}"
        return rid, {
            "name": f"projects/{PROJECT_NUMBER}/secrets/{inputs['secretId']}",
            "secretId": inputs["secretId"],
        }
    if typ == "gcp:secretmanager/secretVersion:SecretVersion":
        # Secret Manager names a version by the project's number: projects/NUMBER/secrets/S/versions/1.
        secret = str(inputs["secret"]).rsplit("/", 1)[-1]
        rid = f"projects/{PROJECT_NUMBER}/secrets/{secret}/versions/1"
        return rid, {"name": rid, "version": "1"}
    if typ == "gcp:secretmanager/secretIamMember:SecretIamMember":
        return f"{name}-binding", {"etag": "BwY" + _suffix(name)}
    if typ == "gcp:compute/network:Network":
        rid = f"projects/{project}/global/networks/{given}"
        return rid, {"name": given, "selfLink": f"https://www.googleapis.com/compute/v1/{rid}"}
    if typ == "gcp:compute/subnetwork:Subnetwork":
        rid = f"projects/{project}/regions/{inputs.get('region') or region}/subnetworks/{given}"
        return rid, {"name": given, "selfLink": f"https://www.googleapis.com/compute/v1/{rid}"}
    if typ == "gcp:monitoring/alertPolicy:AlertPolicy":
        rid = f"projects/{project}/alertPolicies/{int(_suffix(name), 16)}"
        return rid, {"name": rid}
    if typ.endswith("IAMMember"):
        return f"{name}-binding", {"etag": "BwY" + _suffix(name)}
    if typ == "gcp:projects/service:Service":
        return f"{project}/{inputs.get('service')}", {}
    if typ.startswith("kubernetes:") and isinstance(inputs.get("metadata"), Mapping):
        meta = inputs["metadata"]
        ns = meta.get("namespace")
        return (f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))), {}
    if typ == "kubernetes:helm.sh/v3:Release":
        return f"{inputs.get('namespace')}/{inputs.get('name')}", {"status": {"status": "deployed"}}
    if typ.startswith("gcp:"):
        # Pulumi auto-names what the program leaves unnamed: a stable suffix stands in for its random one.
        return f"{name}-id", {"name": str(inputs.get("name") or f"{name}-{_suffix(name)}")}
    return f"{name}-id", {}


def invoke(token: str, args: Mapping[str, Any], config: Mapping[str, str]) -> dict[str, Any]:
    project = str(args.get("projectId") or args.get("project") or config.get("gcp:project") or "mock-project")
    if token == "gcp:organizations/getProject:getProject":
        return {"projectId": project, "number": PROJECT_NUMBER, "name": project, "id": f"projects/{project}"}
    if token == "gcp:organizations/getClientConfig:getClientConfig":
        # The provider's own settings: `config` is the stack's for the default provider; a caller
        # that mocks an explicit provider passes that provider's project and region here instead.
        region = str(config.get("gcp:region", ""))
        return {
            "id": f"projects/{project}/regions/{region}/zones/",
            "project": project,
            "region": region,
            "zone": "",
            "accessToken": "mock-access-token",
            "defaultLabels": {},
        }
    if token == "gcp:container/getCluster:getCluster":
        name = str(args["name"])
        location = str(args.get("location") or config.get("gcp:region", "europe-west1"))
        return {
            "id": f"projects/{project}/locations/{location}/clusters/{name}",
            "name": name,
            "location": location,
            "project": project,
            "endpoint": CLUSTER_ENDPOINT,
            "masterAuths": [{"clusterCaCertificate": CLUSTER_CA, "clientCertificate": "", "clientKey": ""}],
            "workloadIdentityConfigs": [{"workloadPool": f"{project}.svc.id.goog"}],
        }
    raise NotImplementedError(f"providers/gcp/mocks.py has no answer for invoke {token}")


#: Made-up values that look real, labelled by `agentfleet plan`.
STAND_INS = {PROJECT_NUMBER: "project number", CLUSTER_ENDPOINT: "GKE control plane address"}
