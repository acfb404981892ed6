"""agentfleet's component provider: `ScalableAgentFleet` for TypeScript, Go, C#, Java and YAML.

Pulumi starts this directory as a plugin (PulumiPlugin.yaml); it serves the schema Pulumi's
analyzer infers from `agentfleet.components.args.ScalableAgentFleetArgs` and constructs fleets
(agentfleet/plugin.py). README.md, "Using agentfleet from other Pulumi languages".
"""

from agentfleet.plugin import serve

if __name__ == "__main__":
    serve()
