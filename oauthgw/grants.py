"""The grant types the gateway serves, named as on the wire (RFC 6749 ``grant_type``)."""

from oauth2_provider.models import AbstractApplication

AUTHORIZATION_CODE = "authorization_code"
PASSWORD = "password"
REFRESH_TOKEN = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"

SERVED = (AUTHORIZATION_CODE, PASSWORD, REFRESH_TOKEN, CLIENT_CREDENTIALS)

# What a public client (no secret: a native or browser app) may use: the
# authorization code with PKCE, and refreshing what it issued (RFC 9700 section 2.1.1).
PUBLIC_CLIENT_GRANTS = frozenset({AUTHORIZATION_CODE, REFRESH_TOKEN})

CHOICES = (
    (AUTHORIZATION_CODE, "Authorization code with PKCE (the gateway's login page)"),
    (PASSWORD, "Resource owner password (forwarded to the authorization server)"),
    (REFRESH_TOKEN, "Refresh token (rotated on every use)"),
    (CLIENT_CREDENTIALS, "Client credentials (trusted machine clients)"),
)

# django-oauth-toolkit names some grants differently from the wire; it asks the
# Application with its own names, so translate them.
_FROM_TOOLKIT = {
    AbstractApplication.GRANT_AUTHORIZATION_CODE: AUTHORIZATION_CODE,
    AbstractApplication.GRANT_PASSWORD: PASSWORD,
    AbstractApplication.GRANT_CLIENT_CREDENTIALS: CLIENT_CREDENTIALS,
}


def from_toolkit_name(name: str) -> str:
    return _FROM_TOOLKIT.get(name, name)
