"""The signature and claims of the gateway's JWT access tokens, checked with its published keys.

What the gateway's own bearer check (``oauthgw.resource_server``) runs before it
looks for the token's row, as an external API would (RFC 9068 section 4): the
header's ``typ`` is ``at+jwt``, its ``kid`` names a published key, its ``alg`` is
that key's algorithm (so never ``none`` nor an HMAC keyed with a public key), the
signature holds, the required claims are there, the token has not expired, and
``iss`` is the configured issuer when there is one, and, when the caller names
one, ``aud`` includes the audience of the API it is presented to (RFC 9068
section 4; ``oauthgw.resource_server``). The toolkit's paths (introspection, the
token endpoint's own reads) name none: they serve every API.
"""

from collections.abc import Collection

import jwt
from django.utils import timezone

from oauthgw import signing_keys, token_formats
from oauthgw.conf import gateway_settings
from oauthgw.exceptions import ExpiredJWT, InvalidJWT, JWTForAnotherAudience


def jwt_access_token_verify(token: str, *, audience: str | Collection[str] | None = None) -> dict:
    """The claims of ``token`` if it is a valid, unexpired JWT access token signed by a published key; else raise.

    ``audience``: the API's identifier, or its identifiers, one of which ``aud`` must
    include (``JWTForAnotherAudience`` otherwise; an empty one matches no token). None: any audience.
    """
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
            # Checked below, once the signature is known to hold: a forged token is invalid, not misdirected.
            # Expiry is checked below on the gateway's clock (timezone.now), like the token's row.
            options={"require": list(token_formats.REQUIRED_CLAIMS), "verify_aud": False, "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidJWT(type(exc).__name__) from exc
    if audience is not None:
        named = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        accepted = {audience} if isinstance(audience, str) else set(audience)
        if not accepted.intersection(named) or accepted == {""}:
            raise JWTForAnotherAudience("aud does not name this API")
    if not isinstance(claims["exp"], int | float):
        raise InvalidJWT("exp is not a number")
    if claims["exp"] <= timezone.now().timestamp():
        raise ExpiredJWT("expired")
    return claims


def jwt_claims_read(token: str) -> dict:
    """The claims of a token the gateway issued (its row was found by checksum), without checking them again."""
    return jwt.decode(token, options={"verify_signature": False})
