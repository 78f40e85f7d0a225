"""What DPoP binds with: a key's thumbprint (the ``jkt``) and an access token's hash (the ``ath``).

A token bound to a key carries the key's RFC 7638 SHA-256 thumbprint as
``cnf.jkt`` (RFC 9449 section 6); the thumbprint is defined once, in
``oauthgw.signing_keys``, where it also names the gateway's own keys. A proof
presented with an access token carries the token's hash as ``ath`` (section 4.2).
"""

import hashlib

from oauthgw.dpop.jose import base64url_encode
from oauthgw.signing_keys import jwk_thumbprint

__all__ = ["access_token_hash", "jwk_thumbprint"]


def access_token_hash(token: str) -> str:
    """BASE64URL(SHA-256(the ASCII bytes of ``token``)): the ``ath`` of a proof presented with it."""
    # Tokens are ASCII (RFC 6750's b64token); a stray character is hashed, not a 500.
    return base64url_encode(hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest())
