"""Probe endpoints are read-only: GET and HEAD answer, anything else is a JSON 405.

They change nothing, so there is nothing for CSRF to protect; without the
exemption a POST from a real client (no CSRF cookie) got Django's HTML 403 page.
HEAD must answer like GET (RFC 9110 section 9.3.2): some load balancers probe with it.
"""

from functools import wraps

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

ALLOWED = ("GET", "HEAD")


def read_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method not in ALLOWED:
            response = JsonResponse({"error": "method_not_allowed", "error_description": "Use GET."}, status=405)
            response["Allow"] = ", ".join(ALLOWED)
            return response
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapper)
