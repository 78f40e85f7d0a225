"""The gateway's issuer identifier: RFC 8414's ``issuer`` and the ``iss`` of its JWT access tokens.

``OAUTHGW_ISSUER``, which outside debug mode the gateway will not serve without
(``oauthgw.checks``): then neither the issuer nor the endpoints the metadata
lists follow the Host header a client sends. In debug mode without it, they are
derived from the request as the toolkit's metadata view derives them: the scheme
and host the request came to (Django's ``ALLOWED_HOSTS`` and
``SECURE_PROXY_SSL_HEADER`` decide which) and the point where the gateway's URLs
are mounted.
"""

from django.http import HttpRequest
from django.urls import reverse

from oauthgw import token_formats
from oauthgw.conf import gateway_settings

# Where the toolkit's backend hands the issuer to oauthlib's request, among the
# WSGI environ's keys: a client's headers all become HTTP_*, so none can set it.
REQUEST_KEY = "oauthgw.issuer"
_METADATA_SUFFIX = "/.well-known/oauth-authorization-server"


def _mount_point() -> str:
    return reverse("oauth2_provider:oauth-server-metadata").removesuffix(_METADATA_SUFFIX)


def gateway_issuer(request: HttpRequest) -> str:
    """The issuer for ``request``, a request to any of the gateway's endpoints."""
    if gateway_settings.ISSUER:
        return gateway_settings.ISSUER
    return request.build_absolute_uri("/").rstrip("/") + _mount_point()


def gateway_url(request: HttpRequest, path: str) -> str:
    """The absolute URL of one of the gateway's own ``path``: under the configured issuer, else the request's host."""
    if not gateway_settings.ISSUER:
        return request.build_absolute_uri(path)
    return gateway_settings.ISSUER.rstrip("/") + path.removeprefix(_mount_point())


def default_audience(issuer: str) -> list[str]:
    """The ``aud`` of JWT access tokens whose client names none: ``OAUTHGW_JWT_AUDIENCE``, else the issuer."""
    return token_formats.audience_values(gateway_settings.JWT_AUDIENCE) or [issuer]
