"""The gateway's issuer identifier: RFC 8414's ``issuer`` and the ``iss`` of its JWT access tokens.

``OAUTHGW_ISSUER`` when set. Otherwise derived from the request as the
toolkit's metadata view derives it: the scheme and host the request came to
(Django's ``ALLOWED_HOSTS`` and ``SECURE_PROXY_SSL_HEADER`` decide which) and the
point where the gateway's URLs are mounted. A token obtained through one host
name then names that host, as the metadata document fetched there does.
"""

from django.http import HttpRequest
from django.urls import reverse

from oauthgw import token_formats
from oauthgw.conf import gateway_settings

# Where the toolkit's backend hands the issuer to oauthlib's request, among the
# WSGI environ's keys: a client's headers all become HTTP_*, so none can set it.
REQUEST_KEY = "oauthgw.issuer"
_METADATA_SUFFIX = "/.well-known/oauth-authorization-server"


def gateway_issuer(request: HttpRequest) -> str:
    """The issuer for ``request``, a request to any of the gateway's endpoints."""
    if gateway_settings.ISSUER:
        return gateway_settings.ISSUER
    mount_point = reverse("oauth2_provider:oauth-server-metadata").removesuffix(_METADATA_SUFFIX)
    return request.build_absolute_uri("/").rstrip("/") + mount_point


def default_audience(issuer: str) -> list[str]:
    """The ``aud`` of JWT access tokens whose client names none: ``OAUTHGW_JWT_AUDIENCE``, else the issuer."""
    return token_formats.audience_values(gateway_settings.JWT_AUDIENCE) or [issuer]
