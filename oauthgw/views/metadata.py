import json

from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views import OAuthServerMetadataView

from oauthgw.exceptions import MethodNotAllowedError
from oauthgw.toolkit.responses import oauth_error_response


@method_decorator(csrf_exempt, name="dispatch")
class ServerMetadataView(OAuthServerMetadataView):
    """RFC 8414 metadata, read-only.

    Without the CSRF exemption a POST from any real client (which has no CSRF
    cookie) got Django's HTML 403 page instead of a 405.
    """

    # An authorization-endpoint capability the toolkit lists from its settings;
    # this server has no authorization endpoint. (response_types_supported stays,
    # empty: RFC 8414 requires it.)
    _NOT_SERVED = ("authorization_response_iss_parameter_supported",)

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        document = json.loads(response.content)
        for key in self._NOT_SERVED:
            document.pop(key, None)
        response.content = json.dumps(document)
        return response

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = oauth_error_response(MethodNotAllowedError(description="Use GET."))
        response["Allow"] = ", ".join(self._allowed_methods())
        return response
