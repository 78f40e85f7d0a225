"""Concurrent refreshes of one refresh token: one request wins, the others lose quietly.

Rotation makes a refresh token single-use, and the toolkit's reuse protection
revokes the whole token family when a used token comes back, taking it for a
stolen copy (RFC 9700 section 4.14.2). A client that refreshes from several
threads or tabs at once sends the same token concurrently: left alone, several
requests would rotate it (the toolkit even answers them with the winner's pair,
blank under hashed storage), or the later ones would count as replays and revoke
the token the winner has just received, leaving the client with nothing.

A request that finds its token live locks the token's row until its transaction
ends (the token view runs the refresh grant in one transaction), so concurrent
requests queue behind the first. When the winner commits, the row no longer
matches "not revoked": the queued requests sent a token that was live when they
came, so they are not replays. Requests of the same burst that reach the gateway
a moment later find the token already rotated; they were sent before the winner's
answer existed, which the gateway knows when they arrived before the winner's
view returned (marked in the shared cache; the rotation's commit time when the
mark is missing). Both kinds answer ``invalid_grant`` and leave the family alone,
so exactly one live refresh token remains.

A token presented after the rotation was answered is a replay, however soon: the
client (or a thief) had the token after it was used.
The toolkit's reuse protection then revokes the whole family (RFC 9700 section
4.14.2), with no grace window a thief could use.

The row lock needs a database with row locks (PostgreSQL); SQLite serialises
writers on its own and ignores ``select_for_update``.

Costs: the usual refresh, a live token nobody else holds, is one query that
locks the row and reads it with its access token and resource owner
(``SKIP LOCKED``, so it never waits). Only when that finds nothing does the
request take the path above (an ``EXISTS``, then a waiting lock), so the rules
for concurrent requests are the same whichever query they pass.
"""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from oauth2_provider.models import AbstractRefreshToken, get_access_token_model, get_refresh_token_model

from oauthgw import shared_state

_ANSWERED_KEY = "oauthgw:refresh:answered:{checksum}"
# Longer than any request of a burst takes to reach the gateway.
_ANSWERED_SECONDS = 60

_arrived_at: ContextVar[datetime | None] = ContextVar("oauthgw_token_request_arrived_at", default=None)


@contextmanager
def token_request_arrival() -> Iterator[None]:
    """Remember, for the current token request, when it reached the gateway."""
    marker = _arrived_at.set(timezone.now())
    try:
        yield
    finally:
        _arrived_at.reset(marker)


def _checksum(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def rotation_answered(*, token: str) -> None:
    """Record that the request which rotated ``token`` has answered its client."""
    shared_state.put(_ANSWERED_KEY.format(checksum=_checksum(token)), timezone.now(), timeout=_ANSWERED_SECONDS)


def _rotated_before_answer_to(checksum: str) -> bool:
    """True if this request arrived before the rotation of ``checksum`` was answered."""
    arrived = _arrived_at.get()
    if arrived is None:
        return False
    answered = shared_state.get(_ANSWERED_KEY.format(checksum=checksum))
    if answered is not None:
        return arrived < answered
    # Not answered yet (or the mark is gone): compare with the rotation itself.
    # Rotation leaves an access token whose source is the old refresh token; a
    # deliberate revocation does not.
    return (
        get_access_token_model()
        .objects.filter(source_refresh_token__token_checksum=checksum, source_refresh_token__revoked__gte=arrived)
        .exists()
    )


@dataclass(frozen=True)
class RefreshTokenClaim:
    """What a refresh request holds after ``refresh_token_claim``.

    ``token``: the live refresh token row, locked until the transaction ends, with
    its access token and resource owner loaded. ``lost_race``: a concurrent
    request rotated the token first; answer invalid_grant and revoke nothing.
    Neither: the token is unknown, revoked, or was rotated before this request
    arrived, and the toolkit's own checks (replay protection) decide.
    """

    token: AbstractRefreshToken | None = None
    lost_race: bool = False


def _live(checksum: str):
    return get_refresh_token_model().objects.filter(token_checksum=checksum, revoked__isnull=True)


def _locked_first(live, **lock):
    # ``of=self``: PostgreSQL cannot lock the nullable side of the outer join.
    # Sliced, not ``first()``: a checksum has one live row, and compiling the
    # ORDER BY that ``first()`` adds was about a third of this query's CPU.
    rows = live.select_related("access_token", "user").select_for_update(of=("self",), **lock)[:1]
    return rows[0] if rows else None


def refresh_token_claim(*, token: str) -> RefreshTokenClaim:
    """Lock the live row of ``token`` for this request's transaction, or say why not."""
    checksum = _checksum(token)
    live = _live(checksum)
    row = _locked_first(live, skip_locked=True)
    if row is not None:
        return RefreshTokenClaim(token=row)
    if not live.exists():
        return RefreshTokenClaim(lost_race=_rotated_before_answer_to(checksum))
    # Live, but another transaction holds the row: wait for it. PostgreSQL then
    # re-checks the row, which a rotation has made no longer live.
    row = _locked_first(live)
    return RefreshTokenClaim(token=row, lost_race=row is None)
