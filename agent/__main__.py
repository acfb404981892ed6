"""`python -m agentfleet.agent run`: the runtime's command line without the operator's root CLI.

Same command as `agentfleet agent run`, but imports only the runtime, so an agent starts in a
fraction of the time (start-up is part of every scale-out); the local fleet starts agents this way.
"""

from agentfleet.agent.cli import agent_app

agent_app(prog_name="agentfleet agent")
