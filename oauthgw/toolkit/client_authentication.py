"""Client authentication outside the token endpoint (introspection)."""

from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauthlib.common import Request as OAuthlibRequest


def authenticated_client(request):
    """The enabled client whose credentials (Basic, else body) the request carries, or None."""
    core = get_oauthlib_core()
    uri, method, body, headers = core._extract_params(request)
    oauth_request = OAuthlibRequest(uri, method, body, headers)
    if core.server.request_validator.authenticate_client(oauth_request):
        return oauth_request.client
    return None
