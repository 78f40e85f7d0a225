"""The random values of issued access and refresh tokens.

oauthlib's default draws 30 characters one at a time from ``SystemRandom`` (30
calls into ``os.urandom`` per token, about 180 bits); one call to ``secrets``
gives 256 bits in 43 URL-safe characters, which are also valid RFC 6750
``b64token`` characters, for a fraction of the CPU.
"""

import secrets

TOKEN_BYTES = 32


def token_value_generate(request, refresh_token: bool = False) -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)
