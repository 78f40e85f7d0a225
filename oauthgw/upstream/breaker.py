"""A circuit breaker per external authorization server that no single source can trip for everyone.

Closed: calls go to the upstream. A fault of a call (``UpstreamUnavailable``) is
charged to its **source**, which the caller names: an opaque keyed hash of the
username and the address the call was made for
(``oauthgw.issuing.throttling.fault_source``). The breaker counts the distinct
sources whose calls faulted in the current window of ``UPSTREAM_BREAKER_WINDOW``
seconds; a source counts once however many of its calls fault. A fault may be the
caller's own doing (a username the upstream chokes on, a wrong password it
answers slowly, after the timeout): such faults count against that caller's own
failure limits (``oauthgw.issuing.throttling``), and one source, however patient,
never makes the circuit open for everyone.

At ``UPSTREAM_BREAKER_THRESHOLD`` distinct sources the breaker still does not take
the callers' word for an outage. It asks the upstream itself, in the background
(the request that counted the fault has its 503 already), with a **probe** no
caller can shape or slow down: a token request with a grant type no server
knows (``upstream.client.probe_token_endpoint``), which a token endpoint refuses
before it looks at any user, whatever it thinks of passwords. A clear refusal
means the upstream answers, and the faults were what was asked: the count starts
again (sources already counted in this window do not count again in it). If the
probe fails too, the upstream is down for everyone, and the circuit opens: for
``UPSTREAM_BREAKER_COOLDOWN`` seconds the gateway answers 503 at once, with the
remaining cool-down as ``Retry-After``, and leaves the upstream alone to recover.

After the cool-down the circuit is half-open: the first request to claim the
probe (an atomic ``add``) probes again while every other one is still refused. A
clear answer closes the circuit and that request goes on; a failure opens it for
another cool-down.

The state lives in the shared state (Redis, or the database without it), so all
worker processes and gateway instances share one circuit per server, written with
atomic operations only. Times are wall-clock seconds stored as values; expiry only
cleans up. A call that succeeds writes nothing.
"""

import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from django.db import connections

from oauthgw.caching import shared_state
from oauthgw.conf import gateway_settings
from oauthgw.exceptions import CircuitOpen, UpstreamUnavailable
from oauthgw.upstream.client import UpstreamConfig, probe_token_endpoint

logger = logging.getLogger(__name__)

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

# Keeps a forgotten "open" mark from lingering for ever if no request comes to close it.
_STATE_TTL = 7 * 24 * 3600


def _clock() -> float:
    # The seam tests replace to move time.
    return time.time()


def _key(server_name: str, part: str) -> str:
    return f"oauthgw:breaker:v3:{server_name}:{part}"


def _enabled() -> bool:
    return gateway_settings.UPSTREAM_BREAKER_THRESHOLD > 0


def breaker_state(server_name: str) -> str:
    """``"closed"``, ``"open"`` or ``"half_open"`` (cool-down over, not probed yet) for the named server."""
    opened_until = shared_state.get(_key(server_name, "opened_until"))
    if opened_until is None:
        return CLOSED
    return OPEN if _clock() < opened_until else HALF_OPEN


def breaker_keys(server_name: str) -> list[str]:
    """The keys ``circuit_breaker`` reads before a call, for a caller that reads them with others."""
    if not _enabled():
        return []
    return [_key(server_name, "opened_until")]


def _probe_answers(server: UpstreamConfig) -> bool | None:
    """Whether the upstream answers a probe like a token endpoint; None if another request is probing."""
    probe_key = _key(server.name, "probe")
    # A probe whose worker died frees the claim after the longest a call may take.
    if not shared_state.add(probe_key, 1, timeout=math.ceil(server.timeout) + 2):
        return None
    try:
        probe = probe_token_endpoint(server)
    finally:
        shared_state.delete_many([probe_key])
    if probe.verdict != "ok":
        logger.warning(
            "authorization server %s failed the breaker's probe: %s %s", server.name, probe.verdict, probe.detail
        )
    return probe.verdict == "ok"


def _cooldown() -> int:
    return gateway_settings.UPSTREAM_BREAKER_COOLDOWN


def _window() -> tuple[int, int]:
    """(index of the current window, its length in seconds)."""
    seconds = max(1, int(gateway_settings.UPSTREAM_BREAKER_WINDOW))
    return int(_clock() // seconds), seconds


def _admit(server: UpstreamConfig, stored: dict) -> None:
    """Let the call through or raise ``CircuitOpen``; a half-open circuit is probed first."""
    opened_until = stored.get(_key(server.name, "opened_until"))
    if opened_until is None:
        return
    remaining = opened_until - _clock()
    if remaining > 0:
        raise CircuitOpen(server.name, retry_after=math.ceil(remaining))
    answers = _probe_answers(server)
    if answers is None:
        raise CircuitOpen(server.name, retry_after=1)
    if not answers:
        shared_state.put(_key(server.name, "opened_until"), _clock() + _cooldown(), timeout=_STATE_TTL)
        logger.warning("circuit for authorization server %s stays open for another %ss", server.name, _cooldown())
        raise CircuitOpen(server.name, retry_after=_cooldown())
    window, _ = _window()
    shared_state.delete_many([_key(server.name, f"sources:{window}"), _key(server.name, "opened_until")])
    logger.warning("circuit for authorization server %s closed: it answers again", server.name)


def _record_fault(server: UpstreamConfig, source: str, cause: str) -> None:
    window, seconds = _window()
    # The mark and the count outlive their window a little, so a late reader never sees a partial one.
    if not shared_state.add(_key(server.name, f"source:{window}:{source}"), 1, timeout=2 * seconds):
        return  # this source has faulted in this window already (or the shared state is down)
    sources = shared_state.counter_add(_key(server.name, f"sources:{window}"), 1, timeout=2 * seconds)
    if sources is None or sources < gateway_settings.UPSTREAM_BREAKER_THRESHOLD:
        return
    # In the background: the request that counted the fault has its 503 already and
    # must not wait for the probe as well (a silent upstream takes the whole timeout).
    _in_background(_probe_before_opening, server, window, sources, cause)


def _probe_before_opening(server: UpstreamConfig, window: int, sources: int, cause: str) -> None:
    answers = _probe_answers(server)
    if answers is None:
        return
    if answers:
        shared_state.delete_many([_key(server.name, f"sources:{window}")])
        logger.warning(
            "authorization server %s: calls for %s sources faulted (last: %s) but it answers the probe; "
            "not opening: the faults came from what was asked",
            server.name,
            sources,
            cause,
        )
        return
    # add, not put: of the requests that fail together, one opens the circuit and says so.
    if shared_state.add(_key(server.name, "opened_until"), _clock() + _cooldown(), timeout=_STATE_TTL):
        logger.warning(
            "circuit for authorization server %s opened after calls for %s sources faulted (last: %s); 503 for %ss",
            server.name,
            sources,
            cause,
            _cooldown(),
        )


_probes: ThreadPoolExecutor | None = None
_probes_pid: int | None = None
_probes_lock = threading.Lock()


def _in_background(function, *args) -> None:
    """Run ``function`` in this process's probe thread (the seam tests replace to run it at once)."""
    global _probes, _probes_pid
    with _probes_lock:
        # Again after a fork: a gunicorn worker must not share its parent's threads.
        if _probes is None or _probes_pid != os.getpid():
            _probes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="breaker-probe")
            _probes_pid = os.getpid()
        _probes.submit(_logged_on_failure, function, *args)


def _logged_on_failure(function, *args) -> None:
    try:
        function(*args)
    except Exception:
        logger.exception("the circuit breaker's probe failed")
    finally:
        # A probe thread holds its own database connection (the state without Redis).
        connections.close_all()


@contextmanager
def circuit_breaker(server: UpstreamConfig, *, source: str, stored: dict | None = None) -> Iterator[None]:
    """Guard one upstream call made for ``source``: refuse it while the circuit is open, count its fault.

    Raises ``CircuitOpen`` instead of running the block; lets the block's own
    ``UpstreamUnavailable`` through after charging it to ``source`` (an opaque,
    already hashed identifier of who the call was for). ``stored``: the shared
    state's values for ``breaker_keys(server.name)`` if the caller has just read them.
    """
    if not _enabled():
        yield
        return
    if stored is None:
        stored = shared_state.get_many(breaker_keys(server.name))
    _admit(server, stored)
    try:
        yield
    except UpstreamUnavailable as exc:
        _record_fault(server, source, exc.kind)
        raise
