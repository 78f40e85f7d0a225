"""Which external authorization server vouches for a client's resource owners."""

import logging
from typing import NamedTuple

from oauthgw.conf import gateway_settings
from oauthgw.exceptions import (
    AuthorizationServerDisabled,
    AuthorizationServerSecretUnreadable,
    DecryptionError,
    EncryptionKeyError,
)
from oauthgw.models import AuthorizationServer, reverify_after_setting
from oauthgw.upstream.client import UpstreamConfig

logger = logging.getLogger(__name__)

DEFAULT_NAME = AuthorizationServer.DEFAULT_NAME


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
        reverify_after=reverify_after_setting(gateway_settings.UPSTREAM_REVERIFY),
        reverify_grace=gateway_settings.UPSTREAM_REVERIFY_GRACE,
    )


def upstream_config(server: AuthorizationServer) -> UpstreamConfig:
    """How to reach ``server``; raises ``AuthorizationServerSecretUnreadable`` if its secret cannot be read."""
    try:
        client_secret = server.client_secret
    except (DecryptionError, EncryptionKeyError) as exc:
        # Only this server's logins fail, and the operator is told which one (never the value).
        # The exception names no key and no value: "no configured key opens this
        # value" (a key removed or changed), or which list entries are malformed.
        logger.error(
            "authorization server %s: its stored client secret cannot be decrypted (%s); "
            "its password logins get 503 until OAUTHGW_ENCRYPTION_KEYS is fixed or the secret entered again",
            server.name,
            exc,
        )
        raise AuthorizationServerSecretUnreadable(server.name) from exc
    return UpstreamConfig(
        name=server.name,
        token_url=server.token_url,
        client_id=server.client_id,
        client_secret=client_secret,
        scope=server.scope,
        timeout=server.timeout,
        max_response_bytes=gateway_settings.UPSTREAM_MAX_RESPONSE_BYTES,
        reverify_after=server.reverify_after,
        reverify_grace=server.reverify_grace,
    )


def authorization_server_for(client) -> UpstreamConfig:
    """The server that checks this client's resource owners; raises if it is disabled."""
    if client.authorization_server_id is None:
        return default_authorization_server()
    server = client.authorization_server
    if not server.enabled:
        raise AuthorizationServerDisabled(server.name)
    return upstream_config(server)


class Reverification(NamedTuple):
    """How the server that checks a client's resource owners re-verifies their sessions (``UpstreamConfig``)."""

    server: str
    after: int | None
    grace: int
    timeout: float


def reverification_for(client) -> Reverification:
    """The re-verification setting of the server that checks this client's resource owners.

    Read without the server's secret and whether or not it is enabled: a refresh
    asks this before anything else, and under ``never`` it is all it asks (the
    client's row already holds its server's).
    """
    if client.authorization_server_id is None:
        return Reverification(
            DEFAULT_NAME,
            reverify_after_setting(gateway_settings.UPSTREAM_REVERIFY),
            gateway_settings.UPSTREAM_REVERIFY_GRACE,
            gateway_settings.UPSTREAM_TIMEOUT,
        )
    server = client.authorization_server
    return Reverification(server.name, server.reverify_after, server.reverify_grace, server.timeout)


def authorization_server_set_enabled(*, server: AuthorizationServer, enabled: bool) -> bool:
    """Switch a server on or off; return whether anything changed. Takes effect at the next login."""
    if server.enabled == enabled:
        return False
    server.enabled = enabled
    server.save(update_fields=["enabled", "updated"])
    return True
