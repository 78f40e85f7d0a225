"""Checks on the raw token request, before any client lookup or upstream call.

The same form checks guard the revocation and introspection endpoints, which
take their parameters the same way (RFC 7009 section 2.1, RFC 7662 section 2.1).

The toolkit keeps the last of repeated parameters and decodes bodies leniently;
RFC 6749 section 3.2 says parameters MUST NOT repeat, and hostile input should
cost the gateway nothing. Everything here is a clear 400 ``invalid_request``
(or 401 ``invalid_client`` for a broken Basic header).
"""

import unicodedata
from urllib.parse import parse_qsl

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from oauthlib.oauth2.rfc6749 import errors

from oauthgw import grants
from oauthgw.conf import gateway_settings
from oauthgw.credentials import authorization, check_credential_characters, parse_basic_credentials
from oauthgw.exceptions import MalformedCredentials

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Unicode control (Cc) and format (Cf) characters.
_INVISIBLE = frozenset({"Cc", "Cf"})


def _body(request: HttpRequest) -> bytes:
    limit = gateway_settings.MAX_TOKEN_REQUEST_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        raise errors.InvalidRequestError(description=f"The request body exceeds {limit} bytes.")
    try:
        body = request.body
    except RequestDataTooBig as exc:
        raise errors.InvalidRequestError(description=f"The request body exceeds {limit} bytes.") from exc
    if len(body) > limit:
        raise errors.InvalidRequestError(description=f"The request body exceeds {limit} bytes.")
    return body


def _check_content_type(request: HttpRequest) -> None:
    media_type, _, params = (request.META.get("CONTENT_TYPE") or "").partition(";")
    if media_type.strip().lower() != FORM_CONTENT_TYPE:
        raise errors.InvalidRequestError(description=f"The body must be {FORM_CONTENT_TYPE}.")
    charset = params.strip().lower().removeprefix("charset=").strip('"')
    if params.strip() and charset not in {"utf-8", "utf8"}:
        raise errors.InvalidRequestError(description="The body must be encoded as UTF-8.")


def _parameters(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidRequestError(description="The body is not valid UTF-8 form data.") from exc
    parameters: dict[str, str] = {}
    for name, value in pairs:
        if name in parameters:
            raise errors.InvalidRequestError(description=f"The parameter {name!r} is repeated.")
        if "\x00" in name or "\x00" in value:
            raise errors.InvalidRequestError(description="Parameters must not contain NUL characters.")
        parameters[name] = value
    return parameters


def _basic_client_id(request: HttpRequest) -> str | None:
    """The client id in a Basic header, None without one; raise if it is malformed."""
    if not request.META.get("HTTP_AUTHORIZATION"):
        return None
    scheme, credentials = authorization(request.META)
    if scheme != "basic":
        raise errors.InvalidClientError(description="Client authentication must use HTTP Basic.")
    try:
        client_id, _ = parse_basic_credentials(credentials)
    except MalformedCredentials as exc:
        raise errors.InvalidClientError(description="The Basic credentials are malformed.") from exc
    return client_id


def _check_body_credentials(parameters: dict[str, str]) -> None:
    try:
        check_credential_characters(parameters.get("client_id", ""), parameters.get("client_secret", ""))
    except MalformedCredentials as exc:
        raise errors.InvalidClientError(description="The client credentials are malformed.") from exc


def _check_client_authentication(request: HttpRequest, parameters: dict[str, str]) -> None:
    basic_client_id = _basic_client_id(request)
    if basic_client_id is None:
        _check_body_credentials(parameters)
        return
    # RFC 6749 section 2.3: one authentication method per request.
    if parameters.get("client_secret"):
        raise errors.InvalidRequestError(
            description="Send client credentials either in the Basic header or in the body, not both."
        )
    body_client_id = parameters.get("client_id")
    if body_client_id and body_client_id != basic_client_id:
        raise errors.InvalidRequestError(description="client_id in the body differs from the Basic header.")


def _check_grant(parameters: dict[str, str]) -> None:
    grant_type = parameters.get("grant_type", "")
    if not grant_type:
        raise errors.InvalidRequestError(description="The grant_type parameter is missing.")
    if grant_type not in grants.SERVED:
        raise errors.UnsupportedGrantTypeError(description=f"Supported grant types: {', '.join(grants.SERVED)}.")
    if grant_type == grants.PASSWORD:
        _check_password_parameters(parameters)
    if grant_type == grants.REFRESH_TOKEN and not parameters.get("refresh_token"):
        raise errors.InvalidRequestError(description="The refresh_token parameter is missing.")
    if grant_type == grants.AUTHORIZATION_CODE and not parameters.get("code"):
        raise errors.InvalidRequestError(description="The code parameter is missing.")


def _check_password_parameters(parameters: dict[str, str]) -> None:
    check_login_parameters(username=parameters.get("username", ""), password=parameters.get("password", ""))


def check_login_parameters(*, username: str, password: str) -> None:
    """A username and password fit to go upstream (the password grant's and the login page's rule).

    Raises ``InvalidRequestError`` with a sentence for the person or client.
    """
    limits = {"username": gateway_settings.MAX_USERNAME_LENGTH, "password": gateway_settings.MAX_PASSWORD_LENGTH}
    values = {"username": username, "password": password}
    for name, limit in limits.items():
        value = values[name]
        if not value:
            raise errors.InvalidRequestError(description=f"The {name} parameter is missing or empty.")
        if len(value) > limit:
            raise errors.InvalidRequestError(description=f"The {name} parameter exceeds {limit} characters.")
    if any(unicodedata.category(char) in _INVISIBLE for char in username):
        # Zero-width spaces, bidi controls, CR/LF: no one types them into a username,
        # and each would make a look-alike of someone else's (PRECIS disallows them).
        raise errors.InvalidRequestError(
            description="The username must not contain control or invisible formatting characters."
        )


def describe_token_request(request: HttpRequest) -> tuple[str, str, str]:
    """Best effort, never raising: (grant_type, client_id, username) for audit and metrics."""
    try:
        pairs = dict(parse_qsl(request.body[: gateway_settings.MAX_TOKEN_REQUEST_BYTES].decode("utf-8", "replace")))
    except (RequestDataTooBig, ValueError):
        pairs = {}
    try:
        client_id = _basic_client_id(request) or pairs.get("client_id", "")
    except errors.OAuth2Error:
        client_id = ""
    username = pairs.get("username", "") if pairs.get("grant_type") == grants.PASSWORD else ""
    limit = gateway_settings.MAX_USERNAME_LENGTH
    return _storable(pairs.get("grant_type", "")[:64]), _storable(client_id[:255]), _storable(username[:limit])


def _storable(value: str) -> str:
    # A hostile request may carry NUL, which PostgreSQL text columns refuse: the
    # audit trail would lose the very requests it is for.
    return value.replace("\x00", "\ufffd")


def check_form_request(request: HttpRequest) -> dict[str, str]:
    """The parameters of a well-formed OAuth form POST; raise an ``OAuth2Error`` otherwise."""
    body = _body(request)
    _check_content_type(request)
    parameters = _parameters(body)
    _check_client_authentication(request, parameters)
    return parameters


def check_token_request(request: HttpRequest) -> None:
    """Raise an oauthlib ``OAuth2Error`` describing the first problem found."""
    _check_grant(check_form_request(request))
