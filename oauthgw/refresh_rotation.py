"""Concurrent refreshes of one refresh token: one request wins, the others lose quietly.

Rotation makes a refresh token single-use, and the toolkit's reuse protection
revokes the whole token family when a used token comes back, taking it for a
stolen copy (RFC 9700 section 4.14.2). A client that refreshes from several
threads or tabs at once sends the same token concurrently: left alone, several
requests would rotate it (several live tokens), or the later ones would count as
replays and revoke the token the winner has just received (none left).

A request that finds its token live locks the token's row until its transaction
ends (the token view runs the refresh grant in one transaction), so concurrent
requests queue behind the first. When the winner commits, the row no longer
matches "not revoked": the queued requests presented a token that was live when
they sent it, so they are not replays; they answer ``invalid_grant`` and leave the
family alone. A request that finds the token already rotated is a replay, and the
toolkit's reuse protection revokes the family. Either way no more than one live
refresh token remains in the family.

The row lock needs a database with row locks (PostgreSQL); SQLite serialises
writers on its own and ignores ``select_for_update``.
"""

import hashlib

from oauth2_provider.models import get_refresh_token_model


def refresh_token_lost_race(*, token: str) -> bool:
    """True if this refresh token was live when the request came but a concurrent request has rotated it.

    False means the caller may go on: it holds the token's row lock until its
    transaction ends, or the token was not live to begin with and the toolkit's
    own checks (unknown token, replay) decide.
    """
    checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
    live = get_refresh_token_model().objects.filter(token_checksum=checksum, revoked__isnull=True)
    if not live.exists():
        return False
    # Waits here while a concurrent request that locked the row first rotates it;
    # PostgreSQL then re-checks the row, which is no longer live.
    return not list(live.select_for_update().values_list("pk", flat=True))
