"""How every DRF API behind the gateway answers errors: RFC 6750 section 3 and RFC 9449 section 7.1 shapes.

Wired as DRF's defaults in settings, so a second protected API gets the same
behaviour without touching the authorization server. Challenges name both
schemes, the error in the one the request used (``challenges``).
"""

from rest_framework import exceptions, status
from rest_framework.views import exception_handler

from oauthgw.exceptions import InvalidBearerRequest, ProofCheckUnavailable
from oauthgw.resource_server.challenges import challenges

_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid_request",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "not_acceptable",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "rate_limited",
    status.HTTP_503_SERVICE_UNAVAILABLE: "temporarily_unavailable",
}


def _scheme(request) -> str | None:
    return getattr(request, "token_scheme", None)


def _insufficient_scope(response, request, view):
    scope = " ".join(getattr(view, "required_scopes", []) or [])
    description = "The access token does not grant the scope this resource requires."
    response.data = {"error": "insufficient_scope", "error_description": description, "scope": scope}
    authenticator = request.successful_authenticator
    realm = getattr(authenticator, "www_authenticate_realm", "api")
    response["WWW-Authenticate"] = challenges(
        _scheme(request), {"error": "insufficient_scope", "scope": scope}, realm=realm
    )
    return response


def bearer_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None
    request, view = context["request"], context["view"]
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        oauth2_error = getattr(request, "oauth2_error", None) or {}
        response.data = {
            # RFC 6750 section 3.1: no error code when no credentials were sent;
            # the body still says what happened.
            "error": oauth2_error.get("error", "unauthorized"),
            "error_description": str(oauth2_error.get("error_description", "An access token is required.")),
        }
        nonce = getattr(request, "dpop_nonce", None)
        if nonce:
            # RFC 9449 section 9: the nonce the next proof must carry.
            response["DPoP-Nonce"] = nonce
        return response
    if isinstance(exc, exceptions.PermissionDenied) and request.auth is not None:
        return _insufficient_scope(response, request, view)
    detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
    response.data = {"error": _CODES.get(response.status_code, "access_denied"), "error_description": str(detail)}
    if isinstance(exc, InvalidBearerRequest):
        response["WWW-Authenticate"] = challenges(_scheme(request), {"error": "invalid_request"})
    if isinstance(exc, ProofCheckUnavailable):
        response["Retry-After"] = str(exc.retry_after)
        # Logged once where it happened (oauthgw.dpop.proofs, oauthgw.caching.shared_state);
        # Django's request logger would add an ERROR line for every request of the outage.
        response._has_been_logged = True
    return response
