from django.contrib.auth.decorators import login_not_required
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views.mixins import OAuthLibMixin

from oauthgw.exceptions import MethodNotAllowedError
from oauthgw.toolkit.responses import oauth_error_response


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class OAuthEndpointView(OAuthLibMixin, View):
    """An API endpoint of the authorization server: POST only, JSON errors, no CSRF."""

    http_method_names = ["post", "options"]

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = oauth_error_response(MethodNotAllowedError(description="Use POST."))
        response["Allow"] = "POST"
        return response
