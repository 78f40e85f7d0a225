"""The signature and claims of the gateway's JWT access tokens, checked with its published keys.

What the gateway's own bearer check (``oauthgw.resource_server``) runs before it
looks for the token's row, as an external API would (RFC 9068 section 4): the
header's ``typ`` is ``at+jwt``, its ``kid`` names a published key, its ``alg`` is
that key's algorithm (so never ``none`` nor an HMAC keyed with a public key), the
signature holds, the required claims are there, the token has not expired, and
``iss`` is the configured issuer when there is one. The audience is the
resource's business: inside the gateway, the RFC 8707 restriction stored with
the token applies to both formats alike.
"""

import jwt
from django.utils import timezone

from oauthgw import signing_keys, token_formats
from oauthgw.conf import gateway_settings


class InvalidJWT(Exception):
    """Not a valid JWT access token of this gateway. The message names the reason, never the token."""


class ExpiredJWT(InvalidJWT):
    """A genuine JWT access token of this gateway whose ``exp`` has passed."""


def jwt_access_token_verify(token: str) -> dict:
    """The claims of ``token`` if it is a valid, unexpired JWT access token signed by a published key; else raise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidJWT("malformed JOSE header") from exc
    if header.get("typ") not in token_formats.TYPES:
        raise InvalidJWT("the typ is not at+jwt")
    kid = header.get("kid")
    key = signing_keys.verification_key(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidJWT("no published key has this kid")
    issuer = gateway_settings.ISSUER or None
    try:
        claims = jwt.decode(
            token,
            key.verifier,
            algorithms=[key.algorithm],
            issuer=issuer,
            # Expiry is checked below on the gateway's clock (timezone.now), like the token's row.
            options={"require": list(token_formats.REQUIRED_CLAIMS), "verify_aud": False, "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidJWT(type(exc).__name__) from exc
    if not isinstance(claims["exp"], int | float):
        raise InvalidJWT("exp is not a number")
    if claims["exp"] <= timezone.now().timestamp():
        raise ExpiredJWT("expired")
    return claims


def jwt_claims_read(token: str) -> dict:
    """The claims of a token the gateway issued (its row was found by checksum), without checking them again."""
    return jwt.decode(token, options={"verify_signature": False})
