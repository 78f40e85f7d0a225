"""One question to an authorization server about a resource owner, inside the failure limits and the breaker.

A password login (``issuing.password``) and a session's re-verification
(``issuing.sessions``) ask the upstream the same way, so the rules are the same
for both: the failure limits are read with the breaker's state in one round
trip, an address marked slow must have a free place among this process's calls
in flight, and the attempt holds its place before the call
(``issuing.throttling``); the breaker guards the call and charges a fault to its source, the username from
the address (``upstream.breaker``); and how the upstream answered is recorded on
both. The caller decides what each outcome means to its client.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from oauthgw.caching import shared_state
from oauthgw.exceptions import CircuitOpen, Throttled, UpstreamUnavailable
from oauthgw.issuing import throttling
from oauthgw.observability.fingerprints import fingerprint
from oauthgw.upstream.breaker import breaker_keys, circuit_breaker
from oauthgw.upstream.client import UpstreamConfig

logger = logging.getLogger(__name__)


def upstream_check(*, server: UpstreamConfig, username: str, client, client_ip: str, ask: Callable[[], Any]) -> Any:
    """Run ``ask()`` (an upstream call returning a verdict with ``accepted``) within the limits and the breaker.

    Raises ``Throttled`` without calling when this username, address or client
    failed too often, or this address, marked slow, has too many calls in
    flight in this process; ``CircuitOpen`` when the breaker did not let the call go;
    ``UpstreamUnavailable`` when the upstream gave no clear answer (counted as a
    failure when the input can cause it). Returns the verdict otherwise.
    """
    limits = throttling.password_limits(
        server_name=server.name, username=username, client_id=client.client_id, client_ip=client_ip
    )
    # The failure counters, the address's slow mark and the breaker's state in one round trip.
    stored = shared_state.get_many([*limits.keys, *breaker_keys(server.name)])
    try:
        with throttling.upstream_call_slot(client_ip=client_ip, capped=limits.slowed(stored)):
            attempt = limits.start(stored)
            source = throttling.fault_source(username=username, client_ip=client_ip)
            return _ask(server, limits=limits, attempt=attempt, source=source, stored=stored, ask=ask)
    except Throttled as exc:
        logger.info(
            "throttled: %s over its limit (user %s, client %s, retry after %ss)",
            exc.scope,
            fingerprint(username),
            client.client_id,
            exc.retry_after,
        )
        raise


def _ask(
    server: UpstreamConfig,
    *,
    limits: throttling.PasswordLimits,
    attempt: throttling.PasswordAttempt,
    source: str,
    stored: dict,
    ask: Callable[[], Any],
) -> Any:
    """The call itself, through the breaker; its outcome and its duration recorded on the limits."""
    started = time.monotonic()
    try:
        with circuit_breaker(server, source=source, stored=stored):
            verdict = ask()
    except CircuitOpen:
        attempt.abandoned()
        raise
    except UpstreamUnavailable as exc:
        # A fault the request itself may have caused counts against its limits.
        attempt.faulted(input_dependent=exc.input_dependent)
        raise
    except BaseException:
        attempt.abandoned()
        raise
    finally:
        limits.timed(time.monotonic() - started, timeout=server.timeout)
    if verdict.accepted:
        attempt.accepted()
    else:
        attempt.rejected()
    return verdict
