from agentfleet.cli import app

app()
