"""Commands that run a deployed fleet: `agentfleet status`, `agentfleet dlq …`, `agentfleet send`.

Cloud-neutral: the stack outputs name the cloud, `agentfleet.agent.backends.admin.open_admin`
opens that cloud's admin (its SDK, the operator's credentials), and everything here speaks only
the `QueueAdmin` verbs.

- outputs.py  which fleet: `pulumi stack output --json`, flat or `{"fleets": {NAME: …}}`
- status.py   counts, agents, last dead-letter reasons (shared with `agentfleet local status`)
- redrive.py  dead letters back to the work queue, losing and duplicating nothing; purge
- send.py     JSON lines to the work queue, batched
- cli.py      the typer commands
"""
