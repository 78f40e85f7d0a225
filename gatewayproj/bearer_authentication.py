"""DRF authentication for the APIs behind the gateway: the toolkit's, with a short path.

``OAuth2Authentication`` wraps every call in oauthlib's request plumbing (a copy
of the WSGI environ, a URI rebuilt, a Request object, the resource endpoint)
before it asks the toolkit's validator to load the token; that plumbing costs
more than the cached token lookup itself. For the common case - an
``Authorization: Bearer`` header carrying a valid token of a usable client - this
class asks the same validator (``_load_access_token``, which reads the shared
cache) and applies the same checks as the toolkit's ``validate_bearer_token``:
expiry and ``Application.is_usable``. Everything else (no header, another scheme,
an unknown, expired or revoked token, a disabled client, a resource-restricted
token) goes through the toolkit's full path unchanged, so errors and
``WWW-Authenticate`` challenges are exactly the toolkit's. Scopes are checked by
the permission class, as before.
"""

import re

from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.settings import oauth2_settings
from rest_framework import exceptions

# RFC 6750 section 2.1: the credentials of the Bearer scheme are one b64token.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class MalformedBearerToken(exceptions.APIException):
    """``Authorization: Bearer`` with no token or not a b64token: 400 invalid_request (RFC 6750 section 3.1)."""

    status_code = 400
    default_detail = "The Authorization header must be 'Bearer' followed by one token."
    default_code = "invalid_request"


class BearerTokenAuthentication(OAuth2Authentication):
    _validator = None

    @classmethod
    def _get_validator(cls):
        if cls._validator is None or not isinstance(cls._validator, oauth2_settings.OAUTH2_VALIDATOR_CLASS):
            cls._validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
        return cls._validator

    def authenticate(self, request):
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer":
            if not _B64TOKEN.fullmatch(token):
                raise MalformedBearerToken()
            access_token = self._get_validator()._load_access_token(token)
            if self._accepts(access_token, request):
                return access_token.user, access_token
        return super().authenticate(request)

    @staticmethod
    def _accepts(access_token, request) -> bool:
        if access_token is None or access_token.resource or not access_token.is_valid():
            return False
        application = access_token.application
        return application is None or application.is_usable(request)


class BearerTokenScheme(DjangoOAuthToolkitScheme):
    """The OpenAPI security scheme (drf-spectacular) of the toolkit's class, for this subclass."""

    target_class = BearerTokenAuthentication
