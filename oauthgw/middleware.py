"""What every request gets whatever view answers it: clear failures and a Content-Security-Policy.

A database that cannot answer gets 503 with Retry-After; a request body that does
not arrive within the server's read timeout gets 408; every HTML page gets a
strict Content-Security-Policy.
"""

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError

from oauthgw.conf import gateway_settings
from oauthgw.exceptions import TemporarilyUnavailableError
from oauthgw.toolkit.responses import oauth_error_response

logger = logging.getLogger(__name__)

# What a database that cannot answer raises: down, refusing connections, or
# (SQLite) locked by another process for longer than the busy timeout.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
_DESCRIPTION = "The gateway's database is unavailable; try again later."
_OAUTH_PATH_PREFIX = "/oauth2/"


def database_unavailable_response(request) -> JsonResponse:
    """503 with ``Retry-After``: RFC 6749's shape at the OAuth endpoints, the same JSON elsewhere."""
    retry_after = gateway_settings.UPSTREAM_RETRY_AFTER
    if request.path.startswith(_OAUTH_PATH_PREFIX):
        return oauth_error_response(TemporarilyUnavailableError(retry_after=retry_after, description=_DESCRIPTION))
    return JsonResponse(
        {"error": "temporarily_unavailable", "error_description": _DESCRIPTION},
        status=503,
        headers={"Retry-After": str(retry_after), "Cache-Control": "no-store"},
    )


class DatabaseUnavailableMiddleware:
    """A view whose database cannot answer gets 503 and one log line, not a 500 and a traceback.

    The view's transaction has rolled back by then, so nothing is half-written;
    the next request opens a new connection (``CONN_HEALTH_CHECKS``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        logger.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        response = database_unavailable_response(request)
        # Logged above, once; Django's request logger would add a line per 503.
        response._has_been_logged = True
        return response


class UnreadableBodyMiddleware:
    """A body the client stopped sending (the server's read timeout ran out): 408, one log line.

    gunicorn.conf.py gives every request's socket a read timeout, so a client that
    announces a body and goes silent holds a worker thread for that long, not for
    ever; Django then raises ``UnreadablePostError`` wherever the body is read.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, UnreadablePostError):
            return None
        logger.info("request body not received in time: %s %s (%s)", request.method, request.path, exception)
        response = JsonResponse(
            {"error": "invalid_request", "error_description": "The request body did not arrive in time."},
            status=408,
            headers={"Cache-Control": "no-store"},
        )
        response._has_been_logged = True
        return response


# --- Content-Security-Policy ----------------------------------------------------------
# Django 6 has this built in; on 5.2 it is this middleware. One strict policy for
# every page: nothing runs, styles or loads unless it is a file the gateway serves
# itself, and no page may be framed. Django's admin (5.2) needs nothing more: its
# scripts are files and its data sit in non-executable <script type="application/json">
# blocks. Swagger UI at /api/docs/ is drf-spectacular's split view, whose start-up
# script is a separate request, and its page's inline style is a file
# (templates/drf_spectacular/swagger_ui.html). "img-src data:" is for the SVG icons
# the admin's and Swagger UI's style sheets embed as data URLs.

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)
HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    """Add ``POLICY`` to HTML responses that do not set their own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # JSON, scripts and style sheets run no markup: a policy there does nothing.
        if HEADER not in response and response.get("Content-Type", "").startswith("text/html"):
            response[HEADER] = POLICY
        return response
