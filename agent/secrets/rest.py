"""A JSON GET with a bearer token and bounded retries, for the stores read over plain REST."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from agentfleet.agent.secrets.base import SecretError

#: Attempts for an answer that may pass (throttling, a server error, a dropped connection).
ATTEMPTS = 4
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def get_json(url: str, token: str, reference: str, *, timeout: float = 10.0, backoff: float = 0.5) -> Any:
    """The JSON answer to GET `url`; SecretError naming `reference` (never the body) on failure."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY_STATUSES or attempt == ATTEMPTS:
                raise SecretError(f"{reference} could not be read: HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            if attempt == ATTEMPTS:
                raise SecretError(f"{reference} could not be read: {exc}") from None
        except ValueError:
            raise SecretError(f"{reference} could not be read: the answer is not JSON") from None
        time.sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")
