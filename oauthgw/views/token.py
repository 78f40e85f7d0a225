from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from oauthlib.oauth2.rfc6749 import errors

from oauthgw.errors import oauth_error_response, token_endpoint_response
from oauthgw.token_request import check_token_request
from oauthgw.views.base import OAuthEndpointView


@method_decorator(sensitive_post_parameters("password", "client_secret", "refresh_token"), name="dispatch")
class TokenView(OAuthEndpointView):
    """``POST /oauth2/token``: the password, refresh_token and client_credentials grants."""

    def post(self, request, *args, **kwargs):
        try:
            check_token_request(request)
        except errors.OAuth2Error as error:
            return oauth_error_response(error)
        _, headers, body, status = self.create_token_response(request)
        return token_endpoint_response(headers, body, status)
