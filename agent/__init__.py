"""The agentfleet runtime: what runs inside every agent container."""
