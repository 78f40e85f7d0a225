"""OAuth 2.0 error responses of the token endpoint (RFC 6749 section 5.2)."""

import json
import re

from django.http import HttpResponse
from oauthlib.oauth2.rfc6749 import errors

from oauthgw.conf import gateway_settings

# oauthlib leaves some errors without a description; a client deserves one.
DEFAULT_DESCRIPTIONS = {
    "invalid_client": "Client authentication failed: unknown client, wrong secret or disabled client.",
    "invalid_grant": "The credentials or refresh token are invalid, expired or revoked.",
    "unauthorized_client": "This client may not use this grant type.",
    "invalid_scope": "The requested scope is not allowed for this client.",
}

# RFC 6749 section 5.1: nothing that carries (or is refused) a token may be cached.
NO_STORE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# RFC 6749 section 5.2: the characters an error code may use (no quote, no backslash).
_ERROR_CODE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")


def basic_challenge(error: str | None = None) -> str:
    """The Basic challenge of a 401, naming the OAuth error as RFC 6750 does for Bearer.

    Strict clients (oauth4webapi, openid-client) raise on any 401 challenge before
    they read the body; ``error`` in the header is what lets an application tell
    "the user's password is wrong" (``invalid_grant``) from "this client's own
    credentials were refused" (``invalid_client``) without it.
    """
    challenge = f'Basic realm="{gateway_settings.REALM}", charset="UTF-8"'
    if error and _ERROR_CODE.fullmatch(error):
        challenge += f', error="{error}"'
    return challenge


def token_endpoint_response(headers: dict, body: str, status: int) -> HttpResponse:
    """Turn what oauthlib produced into the gateway's response.

    The toolkit answers invalid_client with a Bearer challenge and invalid_grant
    with 400; the gateway challenges with the scheme clients use here (Basic, RFC
    6749 section 5.2) and answers bad resource-owner credentials with the
    configured status (401 by default, as the source document specifies).
    """
    headers = {**headers, **NO_STORE_HEADERS, "Content-Type": "application/json"}
    if status != 200:
        headers.pop("WWW-Authenticate", None)
        try:
            document = json.loads(body) if body else {}
        except ValueError:
            document = {}
        code = document.get("error")
        if code in DEFAULT_DESCRIPTIONS and not document.get("error_description"):
            document["error_description"] = DEFAULT_DESCRIPTIONS[code]
            body = json.dumps(document)
        if code == "invalid_client":
            status = 401
        elif code == "invalid_grant":
            status = gateway_settings.INVALID_GRANT_STATUS
        if status == 401:
            headers["WWW-Authenticate"] = basic_challenge(code if isinstance(code, str) else None)
    response = HttpResponse(body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def oauth_error_response(error: errors.OAuth2Error) -> HttpResponse:
    return token_endpoint_response(error.headers, error.json, error.status_code)
