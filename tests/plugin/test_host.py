"""The provider host constructing fleets as another language's program asks it to: the engine's
camelCase inputs in, a fleet and its children out; a bad config as the engine's input-property
errors (one per field, no traceback); what one deployment registered kept across construct calls.
Each check runs under the AWS mocks in a child process (tests/plugin/host.py says why)."""

from __future__ import annotations

from typing import Any

from agentfleet.components.fleet import TYPE_TOKEN
from tests.plugin.helpers import run_host

CONFIG: dict[str, Any] = {"agent": {"image": "ghcr.io/acme/orders-agent:1.0.0"}}


def construct(*runs: dict[str, Any], hosting: bool = False) -> list[dict[str, Any]]:
    return list(run_host("construct", {"hosting": hosting, "runs": list(runs)}))


def test_the_host_constructs_a_fleet_from_another_languages_inputs() -> None:
    (result,) = construct(
        {"name": "orders", "inputs": {"cloud": "aws", "config": {**CONFIG, "scaling": {"max_agents": 4}}}}
    )
    resources = result["resources"]
    (fleet,) = [r for r in resources if r["type"] == TYPE_TOKEN]
    (group,) = [r for r in resources if r["type"] == "aws:autoscaling/group:Group"]
    assert fleet["name"] == "orders"
    assert group["parent"] == fleet["urn"]
    assert group["inputs"]["maxSize"] == 4


def test_the_host_reports_a_bad_config_as_input_property_errors() -> None:
    bad = {"cloud": "aws", "config": {**CONFIG, "scaling": {"min_agents": 3, "max_agents": 2}}}
    (result,) = construct({"name": "orders", "inputs": bad})
    assert [e["property_path"] for e in result["properties"]] == ["config.scaling.max_agents"]
    assert result["properties"][0]["reason"].startswith("agentfleet: config.scaling.max_agents=2")
    assert "Traceback" not in result["error"] and len(result["error"].splitlines()) == 1


def test_the_host_knows_the_fleets_of_one_deployment_across_its_construct_calls() -> None:
    """The host reconnects to the engine for every construct call, so what one program registered
    (fleet names, shared networks) is kept per deployment, not per connection."""
    orders = {"name": "orders", "inputs": {"cloud": "aws", "config": CONFIG}}
    first, second, preview = construct(orders, orders, {**orders, "preview": True}, hosting=True)
    assert "resources" in first
    assert "is already the name of another fleet in this stack" in second["error"]
    assert "resources" in preview  # `pulumi up` previews first: another run
