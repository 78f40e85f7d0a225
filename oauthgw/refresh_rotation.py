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
came, so they are not replays. Requests that arrive a moment after the winner
committed (the client sent them at the same time; the network or a busy worker
delayed them) find the token already rotated; within ``REFRESH_REUSE_LEEWAY``
seconds of the rotation they belong to the same burst. Both kinds answer
``invalid_grant`` and leave the family alone, so exactly one live refresh token
remains. Anything later, or a token revoked on purpose, is a replay, and the
toolkit's reuse protection revokes the family.

The leeway is the usual compromise (Auth0's reuse interval, Okta's grace period),
but smaller and stricter: a token presented inside it still gets nothing. What it
gives up is detection in one narrow case: a thief who rotates a stolen token a few
seconds before its owner does keeps the family; the owner must log in again.

The row lock needs a database with row locks (PostgreSQL); SQLite serialises
writers on its own and ignores ``select_for_update``.
"""

import hashlib
from datetime import timedelta

from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.conf import gateway_settings


def _rotated_moments_ago(checksum: str) -> bool:
    leeway = gateway_settings.REFRESH_REUSE_LEEWAY
    if leeway <= 0:
        return False
    # Rotation leaves an access token whose source is the old refresh token; a
    # deliberate revocation does not.
    return (
        get_access_token_model()
        .objects.filter(
            source_refresh_token__token_checksum=checksum,
            source_refresh_token__revoked__gte=timezone.now() - timedelta(seconds=leeway),
        )
        .exists()
    )


def refresh_token_lost_race(*, token: str) -> bool:
    """True if a concurrent request rotated this refresh token: answer invalid_grant, revoke nothing.

    False means the caller may go on: it holds the token's row lock until its
    transaction ends, or the token is unknown, revoked or rotated long enough ago
    for the toolkit's own checks (replay protection) to decide.
    """
    checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
    live = get_refresh_token_model().objects.filter(token_checksum=checksum, revoked__isnull=True)
    if not live.exists():
        return _rotated_moments_ago(checksum)
    # Waits here while a concurrent request that locked the row first rotates it;
    # PostgreSQL then re-checks the row, which is no longer live.
    return not list(live.select_for_update().values_list("pk", flat=True))
