"""The smallest fleet on gcp: a name and an image; every other key has its default."""

import pulumi

from agentfleet import ScalableAgentFleet

fleet = ScalableAgentFleet(
    "hello", {"cloud": "gcp", "config": {"agent": {"image": "ghcr.io/acme/hello-agent:1.0.0"}}}
)

pulumi.export("queue", fleet.queue)
pulumi.export("dead_letter_queue", fleet.dead_letter_queue)
pulumi.export("agent_group", fleet.agent_group)
pulumi.export("send_work", fleet.send_work)
