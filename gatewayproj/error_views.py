"""Errors outside any view answer JSON in the OAuth shape, never an HTML page or a trace."""

from django.http import JsonResponse


def not_found(request, exception=None):
    return JsonResponse({"error": "not_found", "error_description": "No such endpoint."}, status=404)


def server_error(request):
    return JsonResponse(
        {"error": "server_error", "error_description": "The gateway failed to handle the request."}, status=500
    )
