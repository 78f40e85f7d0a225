"""Server nonces (RFC 9449 section 8): issued by any process, accepted by every other, with no shared state.

A nonce is the second it was issued and an HMAC of it keyed with ``SECRET_KEY``
(``salted_hmac``): every process and instance of one deployment shares that key,
so each can check any nonce alone, and no client can make one for a time to come
(the point of a nonce: a proof cannot be signed in advance for later use). A
nonce is accepted for ``DPOP_NONCE_LIFETIME`` seconds after it was issued, and
from ``DPOP_CLOCK_SKEW`` seconds before, for an instance whose clock is behind
the one that issued it. Any number of proofs may carry the same nonce: each
proof's ``jti`` is what makes it single-use.

Changing ``SECRET_KEY`` invalidates the nonces in flight; clients then get
``use_dpop_nonce`` with a new one and retry, as RFC 9449 section 8 expects.
"""

import re
import time

from django.utils.crypto import constant_time_compare, salted_hmac

from oauthgw.conf import gateway_settings
from oauthgw.dpop.jose import base64url_encode

_SALT = "oauthgw.dpop.nonces"
# The issue time in hexadecimal, a dot, 128 bits of HMAC-SHA256 in base64url.
_NONCE = re.compile(r"([0-9a-f]{1,12})\.([A-Za-z0-9_-]{22})")


def _mac(issued: int) -> str:
    return base64url_encode(salted_hmac(_SALT, str(issued), algorithm="sha256").digest()[:16])


def dpop_nonce_issue(*, now: float | None = None) -> str:
    """A nonce for the ``DPoP-Nonce`` header, valid in every process for ``DPOP_NONCE_LIFETIME`` seconds."""
    issued = int(time.time() if now is None else now)
    return f"{issued:x}.{_mac(issued)}"


def dpop_nonce_valid(nonce: str, *, now: float | None = None) -> bool:
    """Whether ``nonce`` was issued by this deployment and is still within its lifetime."""
    match = _NONCE.fullmatch(nonce)
    if match is None:
        return False
    issued = int(match[1], 16)
    if not constant_time_compare(match[2], _mac(issued)):
        return False
    now = time.time() if now is None else now
    return -gateway_settings.DPOP_CLOCK_SKEW <= now - issued <= gateway_settings.DPOP_NONCE_LIFETIME
