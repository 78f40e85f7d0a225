"""Which external authorization server vouches for a client's resource owners."""

from oauthgw.conf import gateway_settings
from oauthgw.upstream import UpstreamConfig

DEFAULT_NAME = "default"


def default_authorization_server() -> UpstreamConfig:
    """The server configured by the ``OAUTHGW_UPSTREAM_*`` settings."""
    return UpstreamConfig(
        name=DEFAULT_NAME,
        token_url=gateway_settings.UPSTREAM_TOKEN_URL,
        client_id=gateway_settings.UPSTREAM_CLIENT_ID,
        client_secret=gateway_settings.UPSTREAM_CLIENT_SECRET,
        scope=gateway_settings.UPSTREAM_SCOPE,
        timeout=gateway_settings.UPSTREAM_TIMEOUT,
        max_response_bytes=gateway_settings.UPSTREAM_MAX_RESPONSE_BYTES,
    )


def authorization_server_for(client) -> UpstreamConfig:
    return default_authorization_server()
