from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views import OAuthServerMetadataView

from oauthgw.errors import oauth_error_response
from oauthgw.views.base import MethodNotAllowedError


@method_decorator(csrf_exempt, name="dispatch")
class ServerMetadataView(OAuthServerMetadataView):
    """RFC 8414 metadata, read-only.

    Without the CSRF exemption a POST from any real client (which has no CSRF
    cookie) got Django's HTML 403 page instead of a 405.
    """

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = oauth_error_response(MethodNotAllowedError(description="Use GET."))
        response["Allow"] = ", ".join(self._allowed_methods())
        return response
