"""The password grant's policy: ask the client's authorization server, map the answer to a user.

Before the upstream sees a password, the login must pass the gateway's block
(``resource_owners``), then the failure limits and the server's circuit breaker,
which also record the verdict (``upstream_checks``). What the
server said (its refresh token, how long its token lives) goes with the login to
the session it starts (``sessions``).
"""

import logging

from django.utils import timezone

from oauthgw.conf import gateway_settings
from oauthgw.exceptions import CircuitOpen, ResourceOwnerBlocked, UpstreamUnavailable
from oauthgw.issuing.resource_owners import (
    resource_owner_login_blocked,
    resource_owner_subject,
    resource_owner_upsert,
)
from oauthgw.issuing.sessions import UpstreamLogin
from oauthgw.issuing.upstream_checks import upstream_check
from oauthgw.observability.fingerprints import fingerprint
from oauthgw.upstream.client import verify_password
from oauthgw.upstream.servers import authorization_server_for

logger = logging.getLogger(__name__)


def resource_owner_authenticate(*, client, username: str, password: str, client_ip: str) -> UpstreamLogin | None:
    """Return the login (the resource owner's user, what the upstream said) if the upstream accepts, else None.

    Raises ``ResourceOwnerBlocked`` for an owner blocked at the gateway (before
    the upstream is asked when the username tells, after it otherwise),
    ``Throttled`` when this username, address or client failed too often
    recently, and ``UpstreamUnavailable`` when the upstream gives no clear
    answer (``CircuitOpen`` when the breaker did not even ask it): an outage must
    never look like a wrong password. The credentials reach the upstream at most
    once (the breaker may add a probe, which carries none).

    The resource owner is who the upstream vouched for: its ``sub`` when its
    answer has one, else the username in one normalised form.
    """
    server = authorization_server_for(client)
    if resource_owner_login_blocked(authorization_server=server.name, username=username):
        logger.info("login refused: user %s is blocked (client %s)", fingerprint(username), client.client_id)
        raise ResourceOwnerBlocked
    try:
        verdict = upstream_check(
            server=server,
            username=username,
            client=client,
            client_ip=client_ip,
            ask=lambda: verify_password(
                server,
                username=username,
                password=password,
                client_ip=client_ip,
                max_concurrency=gateway_settings.UPSTREAM_MAX_CONCURRENCY,
            ),
        )
    except CircuitOpen as exc:
        # Logged when the circuit opened; one line per refused request would flood.
        logger.debug("%s (client %s)", exc, client.client_id)
        raise
    except UpstreamUnavailable as exc:
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
    try:
        user = resource_owner_upsert(
            authorization_server=server.name,
            subject=verdict.subject or resource_owner_subject(username),
            username=verdict.username or username.strip(),
        )
    except ResourceOwnerBlocked:
        logger.info("login refused: user %s is blocked (client %s)", fingerprint(username), client.client_id)
        raise
    return UpstreamLogin(
        user=user,
        authorization_server=server.name,
        verified=timezone.now(),
        refresh_token=verdict.refresh_token,
        expires_in=verdict.expires_in,
        reverify_after=server.reverify_after,
    )
