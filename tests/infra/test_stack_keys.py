"""Stack config as Pulumi users write it: `--path` values, misspelt keys, a value where an object belongs.

Each case is what a new user following Pulumi's docs (not ours) ran into; each answer is one
line naming the key and what to do.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentfleet.components.problems import ConfigError
from agentfleet.components.validation import load_fleet_config, parse_fleet, read_stack_keys
from tests.infra.helpers import BASE_FLEET, deep_merge


def engine(**keys: Any) -> dict[str, Any]:
    """Engine-form config: structured values as JSON strings, as Pulumi hands them to a program."""
    return {k.replace("__", ":"): json.dumps(v) if isinstance(v, dict) else v for k, v in keys.items()}


def problems_of(config: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        cloud, raw = read_stack_keys(config)
        load_fleet_config(cloud, raw)
    return [str(p) for p in err.value.problems]


def test_a_number_or_boolean_set_with_path_is_a_string_in_the_agent_environment() -> None:
    # `pulumi config set --path agentfleet:fleet.agent.env.WORKERS 4` stores the number 4.
    env = {"WORKERS": 4, "DEBUG": True, "RATE": 1.5}
    config = parse_fleet(deep_merge(BASE_FLEET, {"agent": {"env": env}}))
    assert config.agent.env == {"WORKERS": "4", "DEBUG": "true", "RATE": "1.5"}


def test_a_string_where_a_number_belongs_is_quoted_so_it_reads_as_a_string() -> None:
    with pytest.raises(ConfigError) as err:
        parse_fleet(deep_merge(BASE_FLEET, {"scaling": {"max_agents": "5"}}))
    assert str(err.value) == "agentfleet: fleet.scaling.max_agents='5' must be a whole number"


def test_a_misspelt_top_level_key_is_named_with_the_closest_known_one_and_no_none_anywhere() -> None:
    messages = problems_of(engine(agentfleet__cloud="aws", agentfleet__fleett=BASE_FLEET))
    assert messages[0] == (
        "agentfleet: agentfleet:fleett is not a known key; did you mean agentfleet:fleet? "
        "(agentfleet:cloud, agentfleet:fleet, agentfleet:fleets, agentfleet:network are)"
    )
    assert messages[1:] == ["agentfleet: fleet must be set: add an agentfleet:fleet object to the config"]
    assert not any("None" in m for m in messages)


def test_a_misspelt_cloud_key_is_named_too() -> None:
    messages = problems_of(engine(agentfleet__clod="aws", agentfleet__fleet=BASE_FLEET))
    assert messages == [
        "agentfleet: agentfleet:clod is not a known key; did you mean agentfleet:cloud? "
        "(agentfleet:cloud, agentfleet:fleet, agentfleet:fleets, agentfleet:network are)",
        "agentfleet: cloud must be set to one of aws, azure, gcp: pulumi config set agentfleet:cloud aws",
    ]


def test_a_key_set_without_path_says_to_use_path() -> None:
    # `pulumi config set agentfleet:fleet.name moodring` (no --path) writes a key literally named so.
    messages = problems_of({"agentfleet:cloud": "aws", "agentfleet:fleet.name": "moodring"})
    assert messages[0] == (
        "agentfleet: agentfleet:fleet.name is not a key: to set a field of agentfleet:fleet, "
        "run pulumi config set --path 'agentfleet:fleet.name' VALUE"
    )


def test_a_plain_value_where_the_fleet_object_belongs_is_one_line_not_a_traceback() -> None:
    messages = problems_of({"agentfleet:cloud": "aws", "agentfleet:fleet": "moodring"})
    assert messages == [
        "agentfleet: fleet='moodring' must be an object with name, agent, queue, scaling, ..."
    ]


def test_keys_of_other_namespaces_are_not_ours_to_judge() -> None:
    cloud, raw = read_stack_keys(
        engine(agentfleet__cloud="aws", agentfleet__fleet=BASE_FLEET, aws__region="us-east-1")
    )
    assert (cloud, raw) == ("aws", BASE_FLEET)


def test_secrets_take_a_secret_string_or_a_reference_and_errors_never_show_a_value() -> None:
    secrets = {"API_KEY": "topsecret", "DB": {"ref": "projects/p/secrets/db"}, "T": {"secure": "v1:abc"}}
    config = parse_fleet(deep_merge(BASE_FLEET, {"agent": {"secrets": secrets}}))
    assert set(config.agent.secrets) == {"API_KEY", "DB", "T"}
    with pytest.raises(ConfigError) as err:
        parse_fleet(deep_merge(BASE_FLEET, {"agent": {"secrets": {"API_KEY": "topsecret", "BAD": 5}}}))
    assert str(err.value) == (
        "agentfleet: fleet.agent.secrets.BAD must be a secret string (pulumi config set --secret --path "
        "'agentfleet:fleet.agent.secrets.BAD' VALUE) or {ref: <secret store reference>}"
    )
    assert "topsecret" not in str(err.value)


def test_a_variable_is_plain_or_secret_not_both() -> None:
    with pytest.raises(ConfigError) as err:
        parse_fleet(deep_merge(BASE_FLEET, {"agent": {"env": {"DB": "x"}, "secrets": {"DB": "y"}}}))
    assert str(err.value) == (
        "agentfleet: fleet.agent.secrets.DB is also in agent.env: "
        "a variable is either plain or secret, not both"
    )


def test_a_secret_reference_must_be_one_the_chosen_clouds_agents_can_read() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"
    on_gcp = deep_merge(BASE_FLEET, {"agent": {"secrets": {"DB": {"ref": arn}, "K": "value"}}})
    messages = problems_of(engine(agentfleet__cloud="gcp", agentfleet__fleet=on_gcp))
    assert messages == [
        f"agentfleet: fleet.agent.secrets.DB.ref='{arn}' must be a reference to this cloud's secret store: "
        "a Secret Manager name, projects/PROJECT/secrets/NAME[/versions/VERSION]"
    ]
    on_aws = engine(agentfleet__cloud="aws", agentfleet__fleet=on_gcp)
    cloud, raw = read_stack_keys(on_aws)
    assert load_fleet_config(cloud, raw).agent.secrets["DB"].ref == arn  # type: ignore[union-attr]


def test_a_pulumi_secret_under_agent_env_is_refused_and_pointed_at_agent_secrets() -> None:
    """The issue's first wall: `pulumi config set --secret --path ...agent.env.API_KEY` gave
    "must be a string"; agent.env is plain text on every agent, so the message says where it goes."""
    with pytest.raises(ConfigError) as err:
        parse_fleet(deep_merge(BASE_FLEET, {"agent": {"env": {"API_KEY": {"secure": "v1:abc"}}}}))
    assert str(err.value) == (
        "agentfleet: fleet.agent.env.API_KEY is a Pulumi secret: agent.env is plain text on every agent; "
        "set it under agent.secrets instead (pulumi config set --secret --path "
        "'agentfleet:fleet.agent.secrets.API_KEY' VALUE)"
    )
    assert "v1:abc" not in str(err.value)


def fleets_problems(config: dict[str, Any]) -> list[str]:
    from agentfleet.components.validation import load_stack_fleets

    with pytest.raises(ConfigError) as err:
        load_stack_fleets(config)
    return [str(p) for p in err.value.problems]


def test_several_fleets_load_each_validated_and_problems_name_the_list_item() -> None:
    from agentfleet.components.validation import load_stack_fleets

    orders = deep_merge(BASE_FLEET, {"name": "orders"})
    emails = deep_merge(BASE_FLEET, {"name": "emails", "scaling": {"max_agents": 3}})
    cloud, fleets = load_stack_fleets(
        {"agentfleet:cloud": "aws", "agentfleet:fleets": json.dumps([orders, emails])}
    )
    assert cloud == "aws"
    assert [(f.name, f.scaling.max_agents) for f in fleets] == [("orders", 10), ("emails", 3)]

    broken = deep_merge(
        BASE_FLEET, {"name": "emails", "scaling": {"max_agents": 0}, "aws": {"instance_typo": 1}}
    )
    assert fleets_problems(
        {"agentfleet:cloud": "aws", "agentfleet:fleets": json.dumps([orders, broken])}
    ) == [
        "agentfleet: fleets[1].scaling.max_agents=0 must be >= 1",
        "agentfleet: fleets[1].aws.instance_typo=1 is not a known key (check its spelling against "
        "docs/configuration.md)",
    ]


def test_two_fleets_of_one_name_and_both_keys_at_once_are_errors_before_anything_registers() -> None:
    orders = deep_merge(BASE_FLEET, {"name": "orders"})
    twice = {"agentfleet:cloud": "gcp", "agentfleet:fleets": json.dumps([orders, orders])}
    assert fleets_problems(twice) == [
        "agentfleet: fleets[1].name='orders' is also the name of fleets[0]: resource names derive from it, "
        "so every fleet needs its own"
    ]
    both = {**twice, "agentfleet:fleets": json.dumps([orders]), "agentfleet:fleet": json.dumps(orders)}
    assert fleets_problems(both) == [
        "agentfleet: agentfleet:fleet is set together with agentfleet:fleets: move that fleet into the list, "
        "or keep one key"
    ]
    assert fleets_problems({"agentfleet:cloud": "gcp", "agentfleet:fleets": "[]"}) == [
        "agentfleet: fleets=[] must be a non-empty list of fleet objects (each like agentfleet:fleet)"
    ]


def test_the_shared_network_is_named_by_agentfleet_network_only_with_several_fleets() -> None:
    from agentfleet.components.validation import load_stack_fleets, shared_network_name

    orders = deep_merge(BASE_FLEET, {"name": "orders"})
    stack = {
        "agentfleet:cloud": "aws",
        "agentfleet:fleets": json.dumps([orders]),
        "agentfleet:network": "prod-net",
    }
    _, fleets = load_stack_fleets(stack)
    assert shared_network_name(stack, fleets) == "prod-net"
    assert (
        shared_network_name({k: v for k, v in stack.items() if k != "agentfleet:network"}, fleets) == "shared"
    )
    with pytest.raises(ConfigError) as err:
        shared_network_name({**stack, "agentfleet:network": "orders"}, fleets)
    assert str(err.value) == (
        "agentfleet: agentfleet:network='orders' is also the name of fleets[0]: their cloud names would "
        "collide; name the network otherwise (pulumi config set agentfleet:network NAME)"
    )
    with pytest.raises(ConfigError, match=r"agentfleet:network='Prod_Net' must be 3-24 chars"):
        shared_network_name({**stack, "agentfleet:network": "Prod_Net"}, fleets)
    one = {
        "agentfleet:cloud": "aws",
        "agentfleet:fleet": json.dumps(orders),
        "agentfleet:network": "prod-net",
    }
    assert fleets_problems(one) == [
        "agentfleet: agentfleet:network='prod-net' names the network several fleets share: it applies only "
        "with agentfleet:fleets"
    ]
