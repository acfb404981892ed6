"""Every name the GCP provider derives from the fleet name is legal for its service, at 24 chars too.

Fleet names are 3-24 chars (components/schema.py). Each rule below is the service's own:
Pub/Sub ids (3-255 chars, letter first, not "goog..."), service account ids (6-30), GKE cluster and
node pool names (<= 40), Compute Engine router / NAT / firewall names and network tags (RFC 1035,
<= 63), Memorystore instance
ids (<= 40), Cloud Storage bucket names (3-63, no "goog" prefix, no "google"), Kubernetes namespace
names and label values (DNS-1123 labels, <= 63), other object names (DNS-1123 subdomains, <= 253),
and IAM condition titles (<= 100).
"""

from __future__ import annotations

import re

import pytest

from agentfleet.synth import Recorded, Synthesis
from tests.infra.gcp_helpers import gcp_synth

LONGEST = "moodring-inventory-recon"
assert len(LONGEST) == 24

PUBSUB_ID = re.compile(r"^[A-Za-z][-A-Za-z0-9_.~+%]{2,254}$")
SERVICE_ACCOUNT_ID = re.compile(r"^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$")
GKE_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$")
RFC1035 = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
MEMORYSTORE_ID = re.compile(r"^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$")
BUCKET = re.compile(r"^[a-z0-9][-a-z0-9_.]{1,61}[a-z0-9]$")
DNS1123_LABEL = re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?$")
GCP_LABEL_VALUE = re.compile(r"^[-_a-z0-9]{0,63}$")


def _longest() -> Synthesis:
    return gcp_synth({"name": LONGEST, "state": {"cache": True}})


def _k8s(s: Synthesis) -> list[Recorded]:
    return [r for r in s.resources if r.type.startswith("kubernetes:") and "metadata" in r.inputs]


@pytest.mark.parametrize("name", ["abc", LONGEST])
def test_pubsub_ids_are_legal(name: str) -> None:
    s = gcp_synth({"name": name})
    pubsub = s.of_type("gcp:pubsub/topic:Topic") + s.of_type("gcp:pubsub/subscription:Subscription")
    assert len(pubsub) == 4
    for r in pubsub:
        assert PUBSUB_ID.match(r.inputs["name"]) and not r.inputs["name"].startswith("goog"), r.inputs["name"]


@pytest.mark.parametrize("name", ["abc", LONGEST])
def test_service_account_ids_are_6_to_30_chars(name: str) -> None:
    accounts = gcp_synth({"name": name}).of_type("gcp:serviceaccount/account:Account")
    assert len(accounts) == 3
    for r in accounts:
        assert SERVICE_ACCOUNT_ID.match(r.inputs["accountId"]), r.inputs["accountId"]


def test_gke_cluster_and_node_pool_names_fit_40_chars() -> None:
    s = _longest()
    names = [s.one("gcp:container/cluster:Cluster").inputs["name"]]
    names += [p.inputs["name"] for p in s.of_type("gcp:container/nodePool:NodePool")]
    assert len(names) == 3
    for name in names:
        assert GKE_NAME.match(name), name


def test_router_nat_and_firewall_names_and_network_tags_are_rfc1035() -> None:
    s = _longest()
    for token in (
        "gcp:compute/router:Router",
        "gcp:compute/routerNat:RouterNat",
        "gcp:compute/firewall:Firewall",
    ):
        name = s.one(token).inputs["name"]
        assert RFC1035.match(name), name
    for tag in s.one("gcp:compute/firewall:Firewall").inputs["targetTags"]:
        assert RFC1035.match(tag), tag


def test_memorystore_instance_id_fits_40_chars() -> None:
    name = _longest().one("gcp:redis/instance:Instance").inputs["name"]
    assert MEMORYSTORE_ID.match(name), name


def test_bucket_name_with_pulumis_suffix_is_legal() -> None:
    # The mock auto-names like Pulumi does: logical name + "-" + 7 hex characters.
    name = _longest().one("gcp:storage/bucket:Bucket").outputs["name"]
    assert BUCKET.match(name) and not name.startswith("goog") and "google" not in name, name


def test_kubernetes_names_and_label_values_are_legal() -> None:
    s = _longest()
    namespace = s.one("kubernetes:core/v1:Namespace").inputs["metadata"]["name"]
    assert DNS1123_LABEL.match(namespace), namespace
    objects = _k8s(s)
    assert len(objects) >= 6
    for r in objects:
        meta = r.inputs["metadata"]
        assert DNS1123_SUBDOMAIN.match(meta["name"]), meta["name"]
        for value in (meta.get("labels") or {}).values():
            assert DNS1123_LABEL.match(value), value
    pod = s.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    for value in [*pod["nodeSelector"].values(), *(t["value"] for t in pod["tolerations"])]:
        assert DNS1123_LABEL.match(value), value


def test_gcp_labels_and_iam_condition_titles_fit() -> None:
    s = _longest()
    labelled = [r for r in s.resources if r.type.startswith("gcp:") and r.inputs.get("labels")]
    assert labelled
    for r in labelled:
        for value in r.inputs["labels"].values():
            assert GCP_LABEL_VALUE.match(value), (r.name, value)
    conditions = [r.inputs["condition"] for r in s.resources if r.inputs.get("condition")]
    assert conditions
    for condition in conditions:
        assert len(condition["title"]) <= 100
