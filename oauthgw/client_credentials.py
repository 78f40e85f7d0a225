"""How a request presents client credentials, and which ones are refused unread.

RFC 6749 section 2.3.1: in a Basic header the client id and secret are each
form-urlencoded, then joined with a colon and Base64-encoded. One parser serves
the raw-request checks (``token_request``) and the validator, so both agree on
what a request presented.

No client id or secret the gateway issues contains a control character, and
PostgreSQL refuses a NUL in a query parameter (a 500): credentials with one are
refused before anything looks them up, however they were encoded.
"""

import base64
import binascii
import re
from urllib.parse import unquote_plus

# C0 and C1 controls and DEL (Unicode category Cc).
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")


class MalformedCredentials(ValueError):
    """Client credentials that cannot belong to any client. The message never holds them."""


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
