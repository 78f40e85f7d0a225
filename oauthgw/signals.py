"""The gateway's signals: what happened to a token request, and to a call to an authorization server.

``upstream_call_finished`` is sent by the upstream client after every login or
re-verification it forwarded (``server``, ``latency`` in seconds, ``fault``: the
kind of ``UpstreamUnavailable``, or None for a clear answer), for the metrics.

The token view classifies every response into a ``TokenOutcome`` and sends
``token_request_finished``; receivers never see a password, secret or token.
Outcomes are named here, once: ``issued``, ``throttled``, ``upstream_unavailable``,
else the RFC 6749 error code (``invalid_grant``, ``invalid_client``, ...).

Whether the request authenticated its client cannot be read from the response
either: the validator notes it (``token_client_note``), and it decides how the
audit trail records a failure (``oauthgw.observability.audit``).

Some outcomes cannot be read from the response, because the client must not
learn them (a blocked resource owner gets the ``invalid_grant`` of a wrong
password), because the response is an ordinary one (a refresh served on grace
during an upstream outage), or because its error code has several causes (a
password grant past its sunset is one ``unauthorized_client``). The policy that decides them notes them with
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
# unauthorized_client, because the client's password grant is past its sunset (oauthgw.issuing.password_sunset):
PASSWORD_GRANT_ENDED = "password_grant_ended"

CODE_REUSED = "code_reused"  # an authorization code presented again; what it issued is revoked
# invalid_grant: a public client's refresh token bound to a DPoP key, presented without a proof by that key.
DPOP_KEY_MISMATCH = "dpop_key_mismatch"
# temporarily_unavailable: DPoP proofs cannot be checked for replay (the shared cache is down).
DPOP_REPLAY_CHECK_UNAVAILABLE = "dpop_replay_check_unavailable"

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
    # The error code of the response this outcome tells more about.
    error: str = "invalid_grant"


@dataclass(frozen=True)
class NotedClient:
    """The client a token request named, as its authentication found it."""

    # The id when it names a registered, enabled client; "" otherwise (anyone may send any id).
    registered_id: str = ""
    authenticated: bool = False


NO_CLIENT = NotedClient()

_noted: ContextVar[NotedOutcome | None] = ContextVar("oauthgw_token_outcome", default=None)
_noted_client: ContextVar[NotedClient] = ContextVar("oauthgw_token_client", default=NO_CLIENT)


@dataclass(frozen=True)
class TokenOutcome:
    outcome: str
    status: int
    grant_type: str
    client_id: str  # as the request named it
    username: str
    client_ip: str
    latency: float
    # Whether the request authenticated its client, and whether its client id names a registered one.
    client: NotedClient = NO_CLIENT


# Sent with ``outcome=TokenOutcome`` after every token-endpoint response, and
# after every login attempt at the login page.
token_request_finished = Signal()
# Sent with ``server``, ``latency`` and ``fault`` after every call the upstream client made.
upstream_call_finished = Signal()


def token_outcome_note(outcome: str, *, username: str = "", error: str = "invalid_grant") -> None:
    """Name the outcome of the token request this thread is answering, for the audit trail only.

    It names the outcome only if the response's error is ``error``.
    """
    _noted.set(NotedOutcome(outcome, username, error))


def token_client_note(*, registered_id: str, authenticated: bool) -> None:
    """Say how the client of the token request this thread is answering authenticated (``NotedClient``)."""
    _noted_client.set(NotedClient(registered_id, authenticated))


def token_client_noted() -> NotedClient:
    """What ``token_client_note`` said during this token request (inside ``token_outcome_noting``)."""
    return _noted_client.get()


@contextmanager
def token_outcome_noting() -> Iterator[Callable[[], NotedOutcome | None]]:
    """Collect what the policy notes during one token request; yields a reader of the note."""
    reset = _noted.set(None)
    reset_client = _noted_client.set(NO_CLIENT)
    try:
        yield _noted.get
    finally:
        _noted.reset(reset)
        _noted_client.reset(reset_client)


def outcome_of(status: int, body: bytes, noted: NotedOutcome | None = None) -> str:
    """The outcome of a response; a ``noted`` one where it agrees (a success with 200, a refusal with its error)."""
    outcome = noted.outcome if noted is not None else None
    if status == 200:
        return outcome if outcome in SUCCESSFUL else ISSUED
    try:
        code = json.loads(body).get("error", "")
    except (ValueError, AttributeError):
        code = ""
    if outcome is not None and outcome not in SUCCESSFUL and code == noted.error:
        return outcome
    return _OUTCOME_BY_ERROR.get(code, code or f"http_{status}")
