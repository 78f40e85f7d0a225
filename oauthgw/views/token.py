import time

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from oauthlib.oauth2.rfc6749 import errors

from oauthgw.client_ip import client_ip
from oauthgw.errors import oauth_error_response, token_endpoint_response
from oauthgw.outcomes import TokenOutcome, outcome_of, token_request_finished
from oauthgw.token_request import check_token_request, describe_token_request
from oauthgw.views.base import OAuthEndpointView


@method_decorator(sensitive_post_parameters("password", "client_secret", "refresh_token"), name="dispatch")
class TokenView(OAuthEndpointView):
    """``POST /oauth2/token``: the password, refresh_token and client_credentials grants."""

    def post(self, request, *args, **kwargs):
        started = time.monotonic()
        response = self._respond(request)
        self._announce(request, response, time.monotonic() - started)
        return response

    def _respond(self, request):
        try:
            check_token_request(request)
        except errors.OAuth2Error as error:
            return oauth_error_response(error)
        _, headers, body, status = self.create_token_response(request)
        return token_endpoint_response(headers, body, status)

    def _announce(self, request, response, latency: float) -> None:
        grant_type, client_id, username = describe_token_request(request)
        outcome = TokenOutcome(
            outcome=outcome_of(response.status_code, response.content),
            status=response.status_code,
            grant_type=grant_type,
            client_id=client_id,
            username=username,
            client_ip=client_ip(request.META),
            latency=latency,
        )
        token_request_finished.send(sender=TokenView, outcome=outcome)
