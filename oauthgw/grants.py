"""The grant types the gateway serves, named as on the wire (RFC 6749 ``grant_type``)."""

from oauth2_provider.models import AbstractApplication

PASSWORD = "password"
REFRESH_TOKEN = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"

SERVED = (PASSWORD, REFRESH_TOKEN, CLIENT_CREDENTIALS)

CHOICES = (
    (PASSWORD, "Resource owner password (forwarded to the authorization server)"),
    (REFRESH_TOKEN, "Refresh token (rotated on every use)"),
    (CLIENT_CREDENTIALS, "Client credentials (trusted machine clients)"),
)

# django-oauth-toolkit names some grants differently from the wire; it asks the
# Application with its own names, so translate them.
_FROM_TOOLKIT = {
    AbstractApplication.GRANT_PASSWORD: PASSWORD,
    AbstractApplication.GRANT_CLIENT_CREDENTIALS: CLIENT_CREDENTIALS,
}


def from_toolkit_name(name: str) -> str:
    return _FROM_TOOLKIT.get(name, name)
