"""A Content-Security-Policy on every HTML page: the admin, the API docs, the error pages.

Django 6 has this built in; on 5.2 it is this middleware. One strict policy for
every page: nothing runs, styles or loads unless it is a file the gateway
serves itself, and no page may be framed. Django's admin (5.2) needs nothing
more: its scripts are files and its data sit in non-executable ``<script
type="application/json">`` blocks. Swagger UI at /api/docs/ would need an
inline script; it is served as drf-spectacular's split view, whose start-up
script is a separate request, and its page's inline style moved to a file
(templates/drf_spectacular/swagger_ui.html), so no page needs an exception.
``img-src data:`` is for the SVG icons the admin's and Swagger UI's style
sheets embed as data URLs.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
