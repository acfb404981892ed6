"""agentfleet's Pulumi program. All logic lives in the `agentfleet` package; see components/program.py."""

import sys

from agentfleet.components.problems import ConfigError
from agentfleet.components.program import main

try:
    main()
except ConfigError as exc:
    # One readable message instead of a Python traceback; Pulumi shows stderr and stops.
    print(exc, file=sys.stderr)
    raise SystemExit(1) from None
