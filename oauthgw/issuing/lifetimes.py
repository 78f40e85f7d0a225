"""How long the tokens and sessions of a client live: its own setting, else the default (for its token format)."""

from datetime import datetime, timedelta

from oauth2_provider.settings import oauth2_settings

from oauthgw.conf import gateway_settings
from oauthgw.issuing import key_rotation


def access_token_seconds(client) -> int:
    # A JWT is verified without asking the gateway, so a revocation reaches an
    # API only when it expires: its default is minutes, not the opaque hour.
    if client.access_token_lifetime:
        return client.access_token_lifetime
    if client.issues_jwt:
        return gateway_settings.JWT_ACCESS_TOKEN_SECONDS
    return oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS


def refresh_token_seconds(client) -> int:
    # The toolkit's REFRESH_TOKEN_EXPIRE_SECONDS is the default and the ceiling:
    # the toolkit itself refuses older refresh tokens, and cleartokens relies on it.
    ceiling = oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS
    return min(client.refresh_token_lifetime or ceiling, ceiling)


def refresh_token_lifetime(client) -> timedelta:
    return timedelta(seconds=refresh_token_seconds(client))


def session_max_age_seconds(client) -> int | None:
    """The most a session (a login and its refreshes) of this client may last; None: no maximum."""
    return client.session_max_age or gateway_settings.SESSION_MAX_AGE or None


def refresh_token_expires_in(client, *, session_ends: datetime | None, now: datetime) -> int:
    """``refresh_token_expires_in``: the token's own lifetime, or what remains of its session if that is less."""
    seconds = refresh_token_seconds(client)
    if session_ends is not None:
        seconds = min(seconds, max(0, int((session_ends - now).total_seconds())))
    return seconds


def access_token_expires_in(request) -> int:
    """oauthlib's ``token_expires_in`` hook, called just before the token generator.

    For a JWT client it also picks the signing key (``request.jwt_signer``, what
    the generator signs with) and ends the token before that key leaves the JWKS.
    """
    seconds = access_token_seconds(request.client)
    if request.client.issues_jwt:
        request.jwt_signer, seconds = key_rotation.signer_within(seconds)
    return seconds
