"""The password grant's policy: ask the client's authorization server, map the answer to a user."""

import logging

from oauthgw import upstream
from oauthgw.authorization_servers import authorization_server_for
from oauthgw.conf import gateway_settings
from oauthgw.fingerprints import fingerprint
from oauthgw.resource_owners import resource_owner_upsert

logger = logging.getLogger(__name__)


def resource_owner_authenticate(*, client, username: str, password: str, client_ip: str):
    """Return the resource owner's user if the upstream accepts the credentials, else None.

    Raises ``upstream.UpstreamUnavailable`` when the upstream gives no clear answer:
    an outage must never look like a wrong password.
    """
    server = authorization_server_for(client)
    try:
        verdict = upstream.verify_password(
            server,
            username=username,
            password=password,
            client_ip=client_ip,
            max_concurrency=gateway_settings.UPSTREAM_MAX_CONCURRENCY,
        )
    except upstream.UpstreamUnavailable as exc:
        logger.warning("authorization server %s unavailable (client %s): %s", server.name, client.client_id, exc)
        raise
    if not verdict.accepted:
        logger.info(
            "authorization server %s rejected user %s (client %s, HTTP %s)",
            server.name,
            fingerprint(username),
            client.client_id,
            verdict.status,
        )
        return None
    return resource_owner_upsert(authorization_server=server.name, subject=username)
