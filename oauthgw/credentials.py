"""What a request presents: its Authorization header, client credentials, and tokens' checksums.

One place parses the header for every caller (the token endpoint's request
checks, the validator, the bearer check, /metrics), so all agree on what a
request presented: RFC 7235 section 2.1 compares the scheme case-insensitively.

RFC 6749 section 2.3.1: in a Basic header the client id and secret are each
form-urlencoded, then joined with a colon and Base64-encoded. No client id or
secret the gateway issues contains a control character, and PostgreSQL refuses a
NUL in a query parameter (a 500): credentials with one are refused before
anything looks them up, however they were encoded.

Tokens are stored as the SHA-256 checksum the toolkit's RFC 9700 storage uses;
``token_checksum`` is that, for every lookup.
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from urllib.parse import unquote_plus

from oauthgw.exceptions import MalformedCredentials

# C0 and C1 controls and DEL (Unicode category Cc).
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")
_HEADER = "HTTP_AUTHORIZATION"


def authorization(meta: Mapping[str, str]) -> tuple[str, str]:
    """(scheme in lower case, credentials) of the Authorization header in a WSGI environ; ("", "") without one."""
    scheme, _, credentials = (meta.get(_HEADER) or "").partition(" ")
    return scheme.lower(), credentials.strip()


def check_credential_characters(*values: str) -> None:
    """Raise ``MalformedCredentials`` if any (decoded) value has a control character."""
    if any(_CONTROL_CHARACTER.search(value) for value in values):
        raise MalformedCredentials("client credentials must not contain control characters")


def parse_basic_credentials(credentials: str) -> tuple[str, str]:
    """(client_id, secret) from the part of a Basic header after the scheme; raise if malformed."""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise MalformedCredentials("the Basic credentials are not Base64-encoded UTF-8") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise MalformedCredentials("the Basic credentials have no client id")
    # Checked after form-decoding too: "%00" is a NUL once decoded.
    client_id, secret = unquote_plus(client_id), unquote_plus(secret)
    check_credential_characters(client_id, secret)
    return client_id, secret


def token_checksum(token: str) -> str:
    """The checksum a token is stored and looked up by (never the token itself)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
