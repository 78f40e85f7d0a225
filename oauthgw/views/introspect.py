from django.http import JsonResponse
from oauthlib.oauth2.rfc6749 import errors

from oauthgw.exceptions import IntrospectionForbiddenError
from oauthgw.issuing.introspection import token_introspect
from oauthgw.toolkit.client_authentication import authenticated_client
from oauthgw.toolkit.request_checks import check_form_request
from oauthgw.toolkit.responses import NO_STORE_HEADERS, oauth_error_response
from oauthgw.views.base import OAuthEndpointView


class IntrospectView(OAuthEndpointView):
    """``POST /oauth2/introspect`` (RFC 7662), for clients marked as resource servers."""

    cors = False

    def post(self, request, *args, **kwargs):
        try:
            check_form_request(request)
        except errors.OAuth2Error as error:
            return oauth_error_response(error)
        client = authenticated_client(request)
        if client is None:
            return oauth_error_response(errors.InvalidClientError())
        if not client.can_introspect:
            return oauth_error_response(IntrospectionForbiddenError())
        token = request.POST.get("token", "")
        if not token:
            return oauth_error_response(errors.InvalidRequestError(description="The token parameter is missing."))
        claims = token_introspect(token=token, token_type_hint=request.POST.get("token_type_hint", ""))
        return JsonResponse(claims, headers=NO_STORE_HEADERS)
