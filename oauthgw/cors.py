"""CORS for browser apps (public clients): the token and revocation endpoints answer only their registered origins.

A single-page app on ``https://app.example`` calls ``/oauth2/token`` and
``/oauth2/revoke`` from the browser; the browser lets its script read the
answer only when the answer names that origin (``Access-Control-Allow-Origin``).
Each client registers its origins (``Application.allowed_origins``,
``oauthgw.redirect_uris`` says what may be registered):

- a request (success or error) gets the header when its ``Origin`` is one of
  the origins of the client it names (``client_id`` in the body or the Basic
  header);
- a preflight (``OPTIONS``) names no client, so it is answered for an origin
  some enabled client registered, with the methods and headers those endpoints
  take, ``DPoP`` among them;
- an answer a page may read exposes ``DPoP-Nonce`` and ``WWW-Authenticate``
  to its script (RFC 9449 sections 7.1 and 8);
- an origin no client registered gets no CORS header at all, so the browser
  keeps the answer from the page.

No credentials mode: the endpoints use no cookies. The metadata document is
public and keeps the toolkit's ``*``.
"""

from django.http import HttpRequest, HttpResponse

from oauthgw.models import Application

PREFLIGHT_MAX_AGE = 600
# DPoP: the proof a browser app sends (RFC 9449 section 4), the nonce it must be able to read (section 8).
ALLOWED_HEADERS = "Authorization, Content-Type, DPoP"
EXPOSED_HEADERS = "DPoP-Nonce, WWW-Authenticate"


def _origin(request: HttpRequest) -> str:
    return request.META.get("HTTP_ORIGIN", "")


def _vary(response: HttpResponse) -> None:
    existing = response.get("Vary", "")
    if "origin" not in existing.lower():
        response["Vary"] = f"{existing}, Origin" if existing else "Origin"


def cors_allow_for_client(request: HttpRequest, response: HttpResponse, client: Application | None) -> None:
    """Let the page read ``response`` when the request's origin is one ``client`` registered."""
    origin = _origin(request)
    if not origin:
        return
    _vary(response)
    if client is not None and client.enabled and client.origin_allowed(origin):
        response["Access-Control-Allow-Origin"] = origin
        # Else the page's script cannot read them (only the CORS-safelisted headers).
        response["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    else:
        # oauthlib adds its own for some successes; only the rule above decides.
        response.headers.pop("Access-Control-Allow-Origin", None)


def _registered_by_an_enabled_client(origin: str) -> bool:
    candidates = Application.objects.filter(enabled=True, allowed_origins__icontains=origin.rstrip("/"))
    return any(client.origin_allowed(origin) for client in candidates.only("allowed_origins")[:20])


def cors_preflight_response(request: HttpRequest, *, methods: str = "POST") -> HttpResponse:
    """The answer to an ``OPTIONS`` preflight: allowed for an origin some enabled client registered."""
    response = HttpResponse(status=204)
    response["Allow"] = f"{methods}, OPTIONS"
    origin = _origin(request)
    if not origin:
        return response
    _vary(response)
    if _registered_by_an_enabled_client(origin):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = methods
        response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return response
