"""Two fleets of one team on AWS: they share one VPC (a FleetNetwork named "shared": the first
fleet that names it builds it, the second joins it) and keep apart their queues, identities and
scaling. Their image is built in this stack's ECR repository: an Output, given as the image input.
"""

import pulumi
import pulumi_aws as aws

from agentfleet import ScalableAgentFleet

TAG = "1.0.0"

repository = aws.ecr.Repository("agents", image_tag_mutability="IMMUTABLE")
image = repository.repository_url.apply(lambda url: f"{url}:{TAG}")

orders = ScalableAgentFleet(
    "orders",
    {
        "cloud": "aws",
        "image": image,
        "network": "shared",
        "config": {
            "agent": {"handler": "agents.orders:handle", "concurrency": 4},
            "scaling": {"max_agents": 20, "target_backlog_per_agent": 20},
        },
    },
)
emails = ScalableAgentFleet(
    "emails",
    {
        "cloud": "aws",
        "image": image,
        "network": "shared",
        "config": {"agent": {"handler": "agents.emails:handle"}, "scaling": {"max_agents": 5}},
    },
)

pulumi.export("repository", repository.repository_url)
for fleet_name, fleet in (("orders", orders), ("emails", emails)):
    pulumi.export(fleet_name, {"queue": fleet.queue, "agent_group": fleet.agent_group, **fleet.send_work})
