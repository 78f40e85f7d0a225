"""How the toolkit hands a Django request to oauthlib, with RFC 6749 section 3.2 applied."""

from oauth2_provider.oauth2_backends import OAuthLibCore

from oauthgw.issuer import REQUEST_KEY, gateway_issuer


class GatewayOAuthLibCore(OAuthLibCore):
    def extract_body(self, request):
        # "Parameters sent without a value MUST be treated as if they were
        # omitted": an empty scope= must not become the scope "".
        return [(name, value) for name, value in super().extract_body(request) if value != ""]

    def extract_headers(self, request):
        # oauthlib's request has a path and headers, not the host and scheme a
        # JWT access token's iss needs: computed here, where the Django request is.
        headers = super().extract_headers(request)
        headers[REQUEST_KEY] = gateway_issuer(request)
        return headers
