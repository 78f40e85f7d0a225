"""The password grant's policy: ask the client's authorization server, map the answer to a user.

Before the upstream sees a password, the login must pass the gateway's block
(``resource_owners``), the failure limits (``throttling``) and the server's circuit
breaker (``circuit_breaker``); after it, the verdict is recorded on both. What the
server said (its refresh token, how long its token lives) goes with the login to
the session it starts (``sessions``).
"""

import logging

from django.utils import timezone

from oauthgw.caching import shared_state
from oauthgw.conf import gateway_settings
from oauthgw.exceptions import CircuitOpen, ResourceOwnerBlocked, Throttled, UpstreamUnavailable
from oauthgw.issuing import throttling
from oauthgw.issuing.resource_owners import (
    resource_owner_login_blocked,
    resource_owner_subject,
    resource_owner_upsert,
)
from oauthgw.issuing.sessions import UpstreamLogin
from oauthgw.observability.fingerprints import fingerprint
from oauthgw.upstream.breaker import breaker_keys, circuit_breaker
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
    limits = throttling.password_limits(
        server_name=server.name, username=username, client_id=client.client_id, client_ip=client_ip
    )
    # The failure counters and the breaker's state in one round trip.
    stored = shared_state.get_many([*limits.keys, *breaker_keys(server.name)])
    try:
        attempt = limits.start(stored)
    except Throttled as exc:
        logger.info(
            "login throttled: %s over its limit (user %s, client %s, retry after %ss)",
            exc.scope,
            fingerprint(username),
            client.client_id,
            exc.retry_after,
        )
        raise
    try:
        with circuit_breaker(server, stored=stored):
            verdict = verify_password(
                server,
                username=username,
                password=password,
                client_ip=client_ip,
                max_concurrency=gateway_settings.UPSTREAM_MAX_CONCURRENCY,
            )
    except CircuitOpen as exc:
        attempt.abandoned()
        # Logged when the circuit opened; one line per refused request would flood.
        logger.debug("%s (client %s)", exc, client.client_id)
        raise
    except UpstreamUnavailable as exc:
        # A fault the request itself may have caused counts against its limits.
        attempt.faulted(input_dependent=exc.input_dependent)
        logger.warning("authorization server %s unavailable (client %s): %s", server.name, client.client_id, exc)
        raise
    except BaseException:
        attempt.abandoned()
        raise
    if not verdict.accepted:
        attempt.rejected()
        logger.info(
            "authorization server %s rejected user %s (client %s, HTTP %s)",
            server.name,
            fingerprint(username),
            client.client_id,
            verdict.status,
        )
        return None
    attempt.accepted()
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
