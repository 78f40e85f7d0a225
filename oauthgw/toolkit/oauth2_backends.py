"""How the toolkit hands a Django request to oauthlib, with RFC 6749 section 3.2 applied."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from oauth2_provider.oauth2_backends import OAuthLibCore

from oauthgw.issuer import REQUEST_KEY, gateway_issuer


def with_issuer(uri: str, issuer: str) -> str:
    """``uri`` (an authorization response, success or error) with RFC 9207's ``iss`` in its query.

    Any ``iss`` already there is replaced: the one a client reads must be the
    metadata's ``issuer``, which ``OAUTHGW_ISSUER`` may set (the toolkit's own
    would derive it from the request).
    """
    parts = urlsplit(uri)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != "iss"]
    query.append(("iss", issuer))
    return urlunsplit(parts._replace(query=urlencode(query)))


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

    def create_authorization_response(self, request, scopes, credentials, allow):
        uri, headers, body, status = super().create_authorization_response(request, scopes, credentials, allow)
        if uri is not None:
            uri = with_issuer(uri, gateway_issuer(request))
            headers["Location"] = uri
        return uri, headers, body, status
