"""The two access-token formats a client may get, and what tells them apart.

- ``opaque``: a random value; an API learns about it only from the gateway (its
  bearer check here, or ``/oauth2/introspect``), so a revocation acts at once.
- ``jwt``: an RFC 9068 JWT access token the gateway signs; an API verifies it
  alone with the published keys (``/.well-known/jwks.json``) and sees a
  revocation only when the token expires.

Both are stored alike, as the SHA-256 checksum of the value
(``oauthgw.credentials.token_checksum``): refresh, introspection, revocation and
the bearer cache do not care which format a value is. An opaque value has no
dot (``secrets.token_urlsafe``); a JWT has exactly two.
"""

import re

OPAQUE = "opaque"
JWT = "jwt"
CHOICES = ((OPAQUE, "Opaque"), (JWT, "JWT (RFC 9068)"))

# RFC 9068 section 2.1: the header's typ; "application/at+jwt" is the same media type.
TYP = "at+jwt"
TYPES = frozenset({TYP, "application/at+jwt"})
# RFC 9068 section 2.2: what every one of the gateway's JWT access tokens carries
# (scope too, as every token here has at least one).
REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")

# Between audience values: spaces, commas, or both ("a, b", "a b", "a,b").
_AUDIENCE_SEPARATORS = re.compile(r"[\s,]+")
_JWS_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


def looks_like_jwt(token: str) -> bool:
    """Whether ``token`` has the shape of a JWS in compact form (never true of an opaque value)."""
    return _JWS_COMPACT.fullmatch(token) is not None


def audience_values(text: str) -> list[str]:
    """Audience values as an operator writes them, in the admin, a command or a setting: separated by
    spaces, commas or both, each once, in the order given. Stored space-separated, as RFC 6749 writes scopes.
    """
    return list(dict.fromkeys(value for value in _AUDIENCE_SEPARATORS.split(text) if value))


def is_string_or_uri(value: str) -> bool:
    """RFC 7519 section 2 StringOrURI: any string, but one with a colon must be a URI."""
    if not value or any(character.isspace() for character in value):
        return False
    return ":" not in value or _URI_SCHEME.fullmatch(value) is not None
