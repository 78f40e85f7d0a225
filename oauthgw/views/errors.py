"""Errors outside any view answer JSON in the OAuth shape, never an HTML page or a trace."""

import sys

from django.http import JsonResponse

from oauthgw.middleware import DATABASE_UNAVAILABLE, database_unavailable_response


def bad_request(request, exception=None):
    # Raised by Django itself on a body it cannot parse (an undecodable form, a
    # broken multipart body) before any view can answer in the OAuth shape.
    return JsonResponse(
        {"error": "invalid_request", "error_description": "The request could not be parsed."}, status=400
    )


def permission_denied(request, exception=None):
    return JsonResponse({"error": "access_denied", "error_description": "Permission denied."}, status=403)


def not_found(request, exception=None):
    return JsonResponse({"error": "not_found", "error_description": "No such endpoint."}, status=404)


def server_error(request):
    # A middleware's query (a session, a user) fails outside any view: the same 503 as a view's.
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        return database_unavailable_response(request)
    return JsonResponse(
        {"error": "server_error", "error_description": "The gateway failed to handle the request."}, status=500
    )
