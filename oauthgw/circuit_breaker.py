"""A circuit breaker per external authorization server, shared by every worker through the cache.

Closed: requests go to the upstream. Each fault (``UpstreamUnavailable``) adds one
to a count of consecutive faults; each clear answer, a rejected password included,
sets it back to zero (if faults were counted when its call was admitted: a call
in flight while another fails has no order with it, and the check costs no cache
access in the common case). At ``UPSTREAM_BREAKER_THRESHOLD`` the circuit opens: for
``UPSTREAM_BREAKER_COOLDOWN`` seconds the gateway answers 503 at once, with the
remaining cool-down as ``Retry-After``, and leaves the upstream alone to recover.

Half-open: once the cool-down is over, the first request to claim the trial (an
atomic ``cache.add``) goes through while every other one is still refused. A clear
answer to the trial closes the circuit; a fault opens it for another cool-down.

The state lives in the cache (Redis when ``REDIS_URL`` is set), so all worker
processes and gateway instances share one circuit per server, and it is written
with atomic operations only. Times are wall-clock seconds stored as values; cache
expiry only cleans up.
"""

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from oauthgw import shared_state
from oauthgw.conf import gateway_settings
from oauthgw.upstream import UpstreamUnavailable

logger = logging.getLogger(__name__)

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

# Keeps a forgotten "open" mark from lingering for ever if no request comes to close it.
_STATE_TTL = 7 * 24 * 3600


class CircuitOpen(UpstreamUnavailable):
    """The breaker refused the call: the upstream was not contacted."""

    def __init__(self, server_name: str, *, retry_after: int):
        super().__init__("circuit_open", f"circuit for authorization server {server_name} is open")
        self.retry_after = retry_after


def _clock() -> float:
    # The seam tests replace to move time.
    return time.time()


def _key(server_name: str, part: str) -> str:
    return f"oauthgw:breaker:v1:{server_name}:{part}"


def _enabled() -> bool:
    return gateway_settings.UPSTREAM_BREAKER_THRESHOLD > 0


def _trial_ttl() -> int:
    # A trial that never reports back (its worker died) frees the claim after
    # the longest time an upstream call may take.
    return math.ceil(gateway_settings.UPSTREAM_TIMEOUT) + 2


def breaker_state(server_name: str) -> str:
    """``"closed"``, ``"open"`` or ``"half_open"`` for the named authorization server."""
    opened_until = shared_state.get(_key(server_name, "opened_until"))
    if opened_until is None:
        return CLOSED
    return OPEN if _clock() < opened_until else HALF_OPEN


def breaker_keys(server_name: str) -> list[str]:
    """The cache keys ``circuit_breaker`` reads before a call, for a caller that reads them with others."""
    if not _enabled():
        return []
    return [_key(server_name, "opened_until"), _key(server_name, "failures")]


def _admit(server_name: str, stored: dict) -> bool:
    """Let the call through (True when it is the half-open trial) or raise ``CircuitOpen``."""
    opened_until = stored.get(_key(server_name, "opened_until"))
    if opened_until is None:
        return False
    remaining = opened_until - _clock()
    if remaining > 0:
        raise CircuitOpen(server_name, retry_after=math.ceil(remaining))
    if shared_state.add(_key(server_name, "trial"), 1, timeout=_trial_ttl()):
        logger.info("circuit for authorization server %s half-open: sending one trial request", server_name)
        return True
    raise CircuitOpen(server_name, retry_after=1)


def _open(server_name: str) -> None:
    shared_state.put(
        _key(server_name, "opened_until"), _clock() + gateway_settings.UPSTREAM_BREAKER_COOLDOWN, timeout=_STATE_TTL
    )


def _record_fault(server_name: str, *, trial: bool, cause: str) -> None:
    failures = shared_state.counter_add(_key(server_name, "failures"), 1, timeout=_STATE_TTL)
    cooldown = gateway_settings.UPSTREAM_BREAKER_COOLDOWN
    if trial:
        _open(server_name)
        shared_state.delete_many([_key(server_name, "trial")])
        logger.warning(
            "circuit for authorization server %s re-opened: the trial request failed (%s); 503 for %ss",
            server_name,
            cause,
            cooldown,
        )
        return
    if failures is None or failures < gateway_settings.UPSTREAM_BREAKER_THRESHOLD:
        return
    opened_until = _clock() + cooldown
    # add, not set: of the requests that fail together, one opens the circuit and says so.
    if shared_state.add(_key(server_name, "opened_until"), opened_until, timeout=_STATE_TTL):
        logger.warning(
            "circuit for authorization server %s opened after %s consecutive faults (last: %s); 503 for %ss",
            server_name,
            failures,
            cause,
            cooldown,
        )


def _record_answer(server_name: str, *, trial: bool, seen_faults: bool) -> None:
    if not trial and not seen_faults:
        # Nothing was recorded when the call was admitted, so nothing to reset: a
        # fault recorded since then is one this answer did not see, as if it came
        # after. The common case costs no cache access at all.
        return
    failures_key, opened_key = _key(server_name, "failures"), _key(server_name, "opened_until")
    # Writes only to close.
    state = shared_state.get_many([failures_key, opened_key])
    if not state and not trial:
        return
    shared_state.delete_many([failures_key, opened_key, _key(server_name, "trial")])
    if opened_key in state:
        logger.warning("circuit for authorization server %s closed: it answers again", server_name)


@contextmanager
def circuit_breaker(server_name: str, *, stored: dict | None = None) -> Iterator[None]:
    """Guard one upstream call: refuse it while the circuit is open, record how it went.

    Raises ``CircuitOpen`` instead of running the block; lets the block's own
    ``UpstreamUnavailable`` through after counting it. ``stored``: the cache's
    values for ``breaker_keys(server_name)`` if the caller has just read them.
    """
    if not _enabled():
        yield
        return
    if stored is None:
        stored = shared_state.get_many(breaker_keys(server_name))
    trial = _admit(server_name, stored)
    try:
        yield
    except UpstreamUnavailable as exc:
        _record_fault(server_name, trial=trial, cause=exc.kind)
        raise
    except BaseException:
        # Not the upstream's fault (a bug, a cancelled request): give the trial back.
        if trial:
            shared_state.delete_many([_key(server_name, "trial")])
        raise
    _record_answer(server_name, trial=trial, seen_faults=any(key in stored for key in breaker_keys(server_name)))
