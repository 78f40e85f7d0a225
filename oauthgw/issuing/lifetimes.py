"""How long the tokens of a client live: its own setting, else the default for its token format."""

from datetime import timedelta

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


def access_token_expires_in(request) -> int:
    """oauthlib's ``token_expires_in`` hook, called just before the token generator.

    For a JWT client it also picks the signing key (``request.jwt_signer``, what
    the generator signs with) and ends the token before that key leaves the JWKS.
    """
    seconds = access_token_seconds(request.client)
    if request.client.issues_jwt:
        request.jwt_signer, seconds = key_rotation.signer_within(seconds)
    return seconds
