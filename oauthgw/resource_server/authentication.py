"""DRF authentication for the APIs behind the gateway: the toolkit's class, checking tokens itself.

``OAuth2Authentication`` hands every request to oauthlib's resource endpoint,
which builds the whole authorization server (the toolkit's server, its
validator and every grant handler) to look one token up, and whose plumbing (a
copy of the WSGI environ, a URI rebuilt, an oauthlib Request) costs more than the
lookup. This subclass keeps the toolkit's interface (the Bearer challenge and its
realm, ``request.oauth2_error`` for the 401) and the toolkit's rules for a token
(``validate_bearer_token``: RFC 6750 section 2.1's header, expiry, an RFC 8707
resource restriction, a usable client), and reads the token through
``oauthgw.resource_server.tokens``: the bearer check imports nothing of the
issuing side. Scopes are checked by the permission class, as before.

A JWT access token (RFC 9068) is checked twice: its signature and claims
locally, with the published keys, as an external API checks them
(``oauthgw.token_verification``); then, like an opaque token, its row, which
carries the gateway's revocation state: a revoked token has no row, a disabled
client's tokens are refused, and so are a blocked resource owner's.
"""

import re
from collections import OrderedDict

from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import exceptions

from oauthgw.credentials import authorization
from oauthgw.resource_server.tokens import access_token_for, owner_is_blocked
from oauthgw.token_formats import looks_like_jwt
from oauthgw.token_verification import ExpiredJWT, InvalidJWT, jwt_access_token_verify

# RFC 6750 section 2.1: the credentials of the Bearer scheme are one b64token.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class MalformedBearerToken(exceptions.APIException):
    """``Authorization: Bearer`` with no token or not a b64token: 400 invalid_request (RFC 6750 section 3.1)."""

    status_code = 400
    default_detail = "The Authorization header must be 'Bearer' followed by one token."
    default_code = "invalid_request"


def _invalid(description: str) -> OrderedDict:
    return OrderedDict([("error", "invalid_token"), ("error_description", description)])


class BearerTokenAuthentication(OAuth2Authentication):
    def authenticate(self, request):
        scheme, token = authorization(request.META)
        if scheme != "bearer":
            # No bearer credentials: not ours to refuse; the 401 challenge names no error.
            return None
        if not _B64TOKEN.fullmatch(token):
            raise MalformedBearerToken()
        error = self._jwt_refusal(token)
        if error:
            request.oauth2_error = error
            return None
        access_token = access_token_for(token)
        error = self._refusal(access_token, request)
        if error:
            request.oauth2_error = error
            return None
        return access_token.user, access_token

    @staticmethod
    def _jwt_refusal(token: str) -> OrderedDict | None:
        """Why a JWT's signature or claims are refused; None for a valid JWT or an opaque value."""
        if not looks_like_jwt(token):
            return None
        try:
            jwt_access_token_verify(token)
        except ExpiredJWT:
            return _invalid("The access token has expired.")
        except InvalidJWT:
            return _invalid("The access token is invalid.")
        return None

    @staticmethod
    def _refusal(access_token, request) -> OrderedDict | None:
        """Why the token is refused, as the toolkit's ``validate_bearer_token`` says it; None if it is not."""
        if access_token is None:
            return _invalid("The access token is invalid.")
        if access_token.is_expired():
            return _invalid("The access token has expired.")
        if access_token.resource and not access_token.allows_audience(request.build_absolute_uri().split("?")[0]):
            return _invalid("The access token is not valid for this resource.")
        application = access_token.application
        if application is not None and not application.is_usable(request):
            return _invalid("The access token is invalid.")
        if owner_is_blocked(access_token):
            return _invalid("The access token is invalid.")
        return None


class BearerTokenScheme(DjangoOAuthToolkitScheme):
    """The OpenAPI security scheme (drf-spectacular) of the toolkit's class, for this subclass."""

    target_class = BearerTokenAuthentication
