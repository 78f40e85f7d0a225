"""The shared cache as the circuit breaker, the login throttle and the bearer cache use it.

Every gateway process and instance sees the same values (Redis when ``REDIS_URL``
is set), and every write is a single atomic operation (``add``, ``incr``,
``delete``), so concurrent requests never overwrite each other's counts.

If the cache itself fails, these helpers answer as if nothing were stored: for
that time the gateway runs without its breaker, its throttle and its bearer
cache rather than without its token endpoint (the upstream keeps its own lockout). After a failure
the process leaves the cache alone for ``BACKOFF`` seconds, so a Redis that hangs
costs one socket timeout per process every few seconds, not one per call, and the
log gets one line per backoff, not one per request.
"""

import logging
import threading
import time
from typing import Any

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

BACKOFF = 5.0

_lock = threading.Lock()
_unavailable_until = 0.0


def _available() -> bool:
    return time.monotonic() >= _unavailable_until


def _failed(operation: str, exc: RedisError) -> None:
    global _unavailable_until
    with _lock:
        if not _available():
            return
        _unavailable_until = time.monotonic() + BACKOFF
    logger.error(
        "shared cache unavailable during %s (%s): breaker, throttle and bearer cache off for %gs",
        operation,
        exc,
        BACKOFF,
    )


def get(key: str) -> Any:
    if not _available():
        return None
    try:
        return cache.get(key)
    except RedisError as exc:
        _failed("get", exc)
        return None


def get_many(keys: list[str]) -> dict[str, Any]:
    if not _available():
        return {}
    try:
        return cache.get_many(keys)
    except RedisError as exc:
        _failed("get_many", exc)
        return {}


def add(key: str, value: Any, *, timeout: float | None) -> bool:
    """Store ``value`` unless ``key`` exists; True if this call stored it."""
    if not _available():
        return False
    try:
        return cache.add(key, value, timeout=timeout)
    except RedisError as exc:
        _failed("add", exc)
        return False


def put(key: str, value: Any, *, timeout: float | None) -> None:
    if not _available():
        return
    try:
        cache.set(key, value, timeout=timeout)
    except RedisError as exc:
        _failed("set", exc)


def delete_many(keys: list[str]) -> None:
    if not _available():
        return
    try:
        cache.delete_many(keys)
    except RedisError as exc:
        _failed("delete_many", exc)


def counter_add(key: str, delta: int, *, timeout: float | None) -> int | None:
    """Add ``delta`` to the integer at ``key`` and return the new value.

    A positive delta creates the counter (starting at 0, expiring after
    ``timeout`` seconds) if needed. A negative delta on a counter that has gone
    (expired or deleted) does nothing and returns None, as does a cache failure.
    """
    if not _available():
        return None
    try:
        if delta > 0:
            cache.add(key, 0, timeout=timeout)
        return cache.incr(key, delta)
    except ValueError:
        return None
    except RedisError as exc:
        _failed("incr", exc)
        return None
