"""Example handlers for agentfleet agents."""
