"""How the toolkit hands a Django request to oauthlib, with RFC 6749 section 3.2 applied."""

from oauth2_provider.oauth2_backends import OAuthLibCore


class GatewayOAuthLibCore(OAuthLibCore):
    def extract_body(self, request):
        # "Parameters sent without a value MUST be treated as if they were
        # omitted": an empty scope= must not become the scope "".
        return [(name, value) for name, value in super().extract_body(request) if value != ""]
