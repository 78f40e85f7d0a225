import json

from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views import OAuthServerMetadataView

from oauthgw import signing_keys
from oauthgw.conf import gateway_settings
from oauthgw.dpop import keys as dpop_keys
from oauthgw.exceptions import MethodNotAllowedError
from oauthgw.issuer import gateway_url
from oauthgw.toolkit.responses import oauth_error_response


@method_decorator(csrf_exempt, name="dispatch")
class ServerMetadataView(OAuthServerMetadataView):
    """RFC 8414 metadata, read-only.

    Without the CSRF exemption a POST from any real client (which has no CSRF
    cookie) got Django's HTML 403 page instead of a 405.

    The toolkit's document lists the authorization endpoint, ``response_types_supported:
    ["code"]``, ``code_challenge_methods_supported: ["S256"]`` and
    ``authorization_response_iss_parameter_supported`` (RFC 9207) from the settings.
    Added to it: ``jwks_uri`` (RFC 8414 section 2), the keys
    that verify JWT access tokens, and ``access_token_signing_alg_values_supported``,
    the algorithms those tokens may be signed with. RFC 8414 and RFC 9068 register
    no name for the latter; this one is what other servers publishing JWT
    access tokens use (InterSystems IRIS, Janssen), and each key in the JWKS names
    its ``alg`` too (RFC 7517 section 4.4), which is what verifiers rely on. And
    ``dpop_signing_alg_values_supported`` (RFC 9449 section 5.1), which tells
    clients the gateway supports DPoP.
    ``issuer`` is ``OAUTHGW_ISSUER`` when set, the ``iss`` of those tokens, and
    every endpoint is then a URL under it, whatever Host the request named.
    """

    # Public clients authenticate with their client_id alone at the token and
    # revocation endpoints; introspection is for resource servers with a secret.
    _NO_SECRET = "none"

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        document = json.loads(response.content)
        methods = document.get("introspection_endpoint_auth_methods_supported", [])
        document["introspection_endpoint_auth_methods_supported"] = [m for m in methods if m != self._NO_SECRET]
        if gateway_settings.ISSUER:
            document["issuer"] = gateway_settings.ISSUER
        document["jwks_uri"] = self._get_endpoint_url(request, "jwks", required=True)
        # Both, whichever new keys use: keys of the other one may still be published.
        document["access_token_signing_alg_values_supported"] = list(signing_keys.ALGORITHMS)
        # RFC 9449 section 5.1: the algorithms a DPoP proof may be signed with.
        document["dpop_signing_alg_values_supported"] = list(dpop_keys.signing_algorithms())
        response.content = json.dumps(document)
        return response

    def _get_endpoint_url(self, request, view_name, required=False):
        url = super()._get_endpoint_url(request, view_name, required=required)
        if url is None:
            return None
        return gateway_url(request, reverse(f"oauth2_provider:{view_name}"))

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = oauth_error_response(MethodNotAllowedError(description="Use GET."))
        response["Allow"] = ", ".join(self._allowed_methods())
        return response
