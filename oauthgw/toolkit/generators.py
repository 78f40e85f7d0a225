"""The values of issued access and refresh tokens.

Opaque values: oauthlib's default draws 30 characters one at a time from
``SystemRandom`` (30 calls into ``os.urandom`` per token, about 180 bits); one
call to ``secrets`` gives 256 bits in 43 URL-safe characters, which are also
valid RFC 6750 ``b64token`` characters, for a fraction of the CPU. Refresh
tokens are always opaque; an access token of a client whose token format is
``jwt`` is an RFC 9068 JWT (``oauthgw.issuing.jwt_access_tokens``).
"""

import secrets

from oauthgw.issuing.jwt_access_tokens import jwt_access_token_issue

TOKEN_BYTES = 32


def token_value_generate(request, refresh_token: bool = False) -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def access_token_generate(request, refresh_token: bool = False) -> str:
    """The toolkit's ``ACCESS_TOKEN_GENERATOR``: a JWT for a ``jwt`` client, else an opaque value."""
    if request.client.issues_jwt:
        return jwt_access_token_issue(request)
    return token_value_generate(request)
