"""The gateway's signal: what happened to a token request, announced once for audit and metrics.

The token view classifies every response into a ``TokenOutcome`` and sends
``token_request_finished``; receivers never see a password, secret or token.
Outcomes are named here, once: ``issued``, ``throttled``, ``upstream_unavailable``,
else the RFC 6749 error code (``invalid_grant``, ``invalid_client``, ...).
"""

import json
from dataclasses import dataclass

from django.dispatch import Signal

ISSUED = "issued"
THROTTLED = "throttled"
UPSTREAM_UNAVAILABLE = "upstream_unavailable"

# Keyed by RFC 6749 error code; anything else keeps its code as the outcome.
_OUTCOME_BY_ERROR = {
    "temporarily_unavailable": UPSTREAM_UNAVAILABLE,
    "slow_down": THROTTLED,
}


@dataclass(frozen=True)
class TokenOutcome:
    outcome: str
    status: int
    grant_type: str
    client_id: str
    username: str
    client_ip: str
    latency: float


# Sent with ``outcome=TokenOutcome`` after every token-endpoint response.
token_request_finished = Signal()


def outcome_of(status: int, body: bytes) -> str:
    if status == 200:
        return ISSUED
    try:
        code = json.loads(body).get("error", "")
    except (ValueError, AttributeError):
        code = ""
    return _OUTCOME_BY_ERROR.get(code, code or f"http_{status}")
