"""Concurrent refreshes of one refresh token: one request wins, the others lose quietly.

Rotation makes a refresh token single-use, and the toolkit's reuse protection
revokes the whole token family when a used token comes back, taking it for a
stolen copy (RFC 9700 section 4.14.2). A client that refreshes from several
threads or tabs at once sends the same token concurrently: left alone, several
requests would rotate it, or the later ones would count as replays and revoke the
token the winner has just received, leaving the client with nothing.

A request that finds its token live locks the token's row until its transaction
ends (the token view runs the refresh grant in one transaction), so concurrent
requests queue behind the first. When the winner commits, the row no longer
matches "not revoked": the queued requests sent a token that was live when they
came, so they are not replays. SQLite ignores ``select_for_update``, but there
the token view's transaction is IMMEDIATE: it takes the database's write lock at
BEGIN, so concurrent refreshes queue on that lock instead.

Requests of the same burst that reach the gateway a moment later find the token
already rotated. Within the reuse interval (``REFRESH_REUSE_INTERVAL`` seconds
after the rotation, as Okta and Auth0 offer) a presentation of the rotated token
by the same client, while its family is still alive, is taken for such a
duplicate: ``invalid_grant``, and the family is left alone, so exactly one live
refresh token, the winner's, remains. After the interval, or by another client,
it is a replay: the toolkit's reuse protection revokes the whole family. The
interval is the trade-off: a thief who replays a token within it gets nothing
but is not detected.

Costs: the usual refresh, a live token nobody else holds, is one query that
locks the row and reads it with its access token and resource owner
(``SKIP LOCKED``, so it never waits). Only when that finds nothing does the
request take the path above (an ``EXISTS``, then a waiting lock or the reuse
check), so the rules for concurrent requests are the same whichever query they
pass.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from oauth2_provider.models import AbstractRefreshToken, get_refresh_token_model

from oauthgw.conf import gateway_settings


def _checksum(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _rotated_moments_ago(checksum: str, client) -> bool:
    """True if this client's token was rotated within the reuse interval and its family lives on."""
    interval = gateway_settings.REFRESH_REUSE_INTERVAL
    if interval <= 0:
        return False
    model = get_refresh_token_model()
    rotated = model.objects.filter(
        token_checksum=checksum,
        application=client,
        revoked__gte=timezone.now() - timedelta(seconds=interval),
        token_family__isnull=False,
    ).values("token_family")[:1]
    # Rotation leaves a live successor in the family; a revocation or a replay leaves none.
    return model.objects.filter(token_family__in=rotated, revoked__isnull=True).exists()


@dataclass(frozen=True)
class RefreshTokenClaim:
    """What a refresh request holds after ``refresh_token_claim``.

    ``token``: the live refresh token row, locked until the transaction ends, with
    its access token and resource owner loaded. ``lost_race``: a concurrent
    request rotated the token first, or it was rotated within the reuse interval;
    answer invalid_grant and revoke nothing. Neither: the token is unknown,
    revoked, or a replay, and the toolkit's own checks (reuse protection) decide.
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


def refresh_token_claim(*, token: str, client) -> RefreshTokenClaim:
    """Lock the live row of ``token`` for this request's transaction, or say why not."""
    checksum = _checksum(token)
    live = _live(checksum)
    row = _locked_first(live, skip_locked=True)
    if row is not None:
        return RefreshTokenClaim(token=row)
    if not live.exists():
        return RefreshTokenClaim(lost_race=_rotated_moments_ago(checksum, client))
    # Live, but another transaction holds the row: wait for it. PostgreSQL then
    # re-checks the row, which a rotation has made no longer live.
    row = _locked_first(live)
    return RefreshTokenClaim(token=row, lost_race=row is None)
