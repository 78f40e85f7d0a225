"""The gateway's signal: what happened to a token request, announced once for audit and metrics.

The token view classifies every response into a ``TokenOutcome`` and sends
``token_request_finished``; receivers never see a password, secret or token.
Outcomes are named here, once: ``issued``, ``throttled``, ``upstream_unavailable``,
else the RFC 6749 error code (``invalid_grant``, ``invalid_client``, ...).

Some outcomes cannot be read from the response, because the client must not
learn them (a blocked resource owner gets the ``invalid_grant`` of a wrong
password) or because the response is an ordinary one (a refresh served on grace
during an upstream outage). The policy that decides them notes them with
``token_outcome_note`` while the request runs; the view collects the note
(``token_outcome_noting``) and it names the outcome when it matches the response.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.dispatch import Signal

ISSUED = "issued"
THROTTLED = "throttled"
UPSTREAM_UNAVAILABLE = "upstream_unavailable"
# A refresh served while the upstream could not re-verify its session, within the grace.
ISSUED_ON_GRACE = "issued_on_grace"
# invalid_grant, for a reason the client is not told:
SESSION_REJECTED = "session_rejected"  # the upstream no longer vouches for the session; its family is revoked
SESSION_EXPIRED = "session_expired"  # the session reached its maximum age, or what the upstream vouched for
OWNER_BLOCKED = "owner_blocked"  # the resource owner is blocked at the gateway
CODE_REUSED = "code_reused"  # an authorization code presented again; what it issued is revoked

# The login page (grant type ``authorization_code``): a resource owner signed in.
# Its refusals are named as the password grant's are (invalid_grant, throttled,
# upstream_unavailable, owner_blocked).
SIGNED_IN = "signed_in"

# Every outcome that hands out tokens.
SUCCESSFUL = frozenset({ISSUED, ISSUED_ON_GRACE})
# Every outcome that refused nothing.
ACCEPTED = SUCCESSFUL | {SIGNED_IN}

# Keyed by RFC 6749 error code; anything else keeps its code as the outcome.
_OUTCOME_BY_ERROR = {
    "temporarily_unavailable": UPSTREAM_UNAVAILABLE,
    "slow_down": THROTTLED,
}


@dataclass(frozen=True)
class NotedOutcome:
    outcome: str
    # Whose session it was, for a refresh (whose request names no username).
    username: str = ""


_noted: ContextVar[NotedOutcome | None] = ContextVar("oauthgw_token_outcome", default=None)


@dataclass(frozen=True)
class TokenOutcome:
    outcome: str
    status: int
    grant_type: str
    client_id: str
    username: str
    client_ip: str
    latency: float


# Sent with ``outcome=TokenOutcome`` after every token-endpoint response, and
# after every login attempt at the login page.
token_request_finished = Signal()


def token_outcome_note(outcome: str, *, username: str = "") -> None:
    """Name the outcome of the token request this thread is answering, for the audit trail only."""
    _noted.set(NotedOutcome(outcome, username))


@contextmanager
def token_outcome_noting() -> Iterator[Callable[[], NotedOutcome | None]]:
    """Collect what the policy notes during one token request; yields a reader of the note."""
    reset = _noted.set(None)
    try:
        yield _noted.get
    finally:
        _noted.reset(reset)


def outcome_of(status: int, body: bytes, noted: NotedOutcome | None = None) -> str:
    """The outcome of a response; a ``noted`` one where it agrees (a success with 200, a refusal with invalid_grant)."""
    outcome = noted.outcome if noted is not None else None
    if status == 200:
        return outcome if outcome in SUCCESSFUL else ISSUED
    try:
        code = json.loads(body).get("error", "")
    except (ValueError, AttributeError):
        code = ""
    if outcome is not None and outcome not in SUCCESSFUL and code == "invalid_grant":
        return outcome
    return _OUTCOME_BY_ERROR.get(code, code or f"http_{status}")
