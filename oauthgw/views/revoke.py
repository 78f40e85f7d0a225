from oauthlib.oauth2.rfc6749 import errors

from oauthgw.cors import cors_allow_for_client
from oauthgw.issuing.clients import client_load
from oauthgw.toolkit.request_checks import check_form_request, describe_token_request
from oauthgw.toolkit.responses import oauth_error_response, token_endpoint_response
from oauthgw.views.base import OAuthEndpointView


class RevokeView(OAuthEndpointView):
    """``POST /oauth2/revoke`` (RFC 7009): a client revokes one of its own tokens."""

    def post(self, request, *args, **kwargs):
        response = self._respond(request)
        if request.META.get("HTTP_ORIGIN"):
            _, client_id, _ = describe_token_request(request)
            cors_allow_for_client(request, response, client_load(client_id))
        return response

    def _respond(self, request):
        try:
            check_form_request(request)
        except errors.OAuth2Error as error:
            return oauth_error_response(error)
        _, headers, body, status = self.create_revocation_response(request)
        return token_endpoint_response(headers, body or "{}", status)
