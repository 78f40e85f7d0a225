from oauthgw.errors import token_endpoint_response
from oauthgw.views.base import OAuthEndpointView


class RevokeView(OAuthEndpointView):
    """``POST /oauth2/revoke`` (RFC 7009): a client revokes one of its own tokens."""

    def post(self, request, *args, **kwargs):
        _, headers, body, status = self.create_revocation_response(request)
        return token_endpoint_response(headers, body or "{}", status)
