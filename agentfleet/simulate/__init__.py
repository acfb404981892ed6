"""`agentfleet simulate`: replay traffic against a model of a target's autoscaling loop.

scenarios.py (traffic) -> engine.py (the fleet, tick by tick, with a target's model from
targets.py) -> metrics.py (the figures) -> report.py (table, JSON, chart); compare.py and
sweep.py run one scenario many ways; cli.py holds the command's options, command.py what it
does. The models live with their providers (providers/<cloud>/simulation.py); the local one is
the local fleet's own autoscaler.
"""
