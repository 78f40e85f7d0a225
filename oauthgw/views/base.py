from django.contrib.auth.decorators import login_not_required
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views.mixins import OAuthLibMixin

from oauthgw.cors import cors_preflight_response
from oauthgw.exceptions import MethodNotAllowedError
from oauthgw.toolkit.responses import oauth_error_response


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class OAuthEndpointView(OAuthLibMixin, View):
    """An API endpoint of the authorization server: POST only, JSON errors, no CSRF; CORS for registered origins."""

    http_method_names = ["post", "options"]
    # Whether browser apps may call it (oauthgw.cors): not introspection, which resource servers call.
    cors = True

    def options(self, request, *args, **kwargs):
        if not self.cors:
            return super().options(request, *args, **kwargs)
        return cors_preflight_response(request)

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = oauth_error_response(MethodNotAllowedError(description="Use POST."))
        response["Allow"] = "POST"
        return response
