"""The shared cache as the circuit breaker and the login throttle use it.

Every gateway process and instance sees the same values (Redis when ``REDIS_URL``
is set), and every write is a single atomic operation (``add``, ``incr``,
``delete``), so concurrent requests never overwrite each other's counts.

If the cache itself fails, these helpers log it and answer as if nothing were
stored: for that time the gateway runs without its breaker and its throttle
rather than without its token endpoint. The upstream keeps its own lockout.
"""

import logging
from typing import Any

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def _cache_failed(operation: str, exc: RedisError) -> None:
    logger.error("shared cache unavailable during %s (%s): breaker and throttle are off", operation, exc)


def get(key: str) -> Any:
    try:
        return cache.get(key)
    except RedisError as exc:
        _cache_failed("get", exc)
        return None


def get_many(keys: list[str]) -> dict[str, Any]:
    try:
        return cache.get_many(keys)
    except RedisError as exc:
        _cache_failed("get_many", exc)
        return {}


def add(key: str, value: Any, *, timeout: float | None) -> bool:
    """Store ``value`` unless ``key`` exists; True if this call stored it."""
    try:
        return cache.add(key, value, timeout=timeout)
    except RedisError as exc:
        _cache_failed("add", exc)
        return False


def put(key: str, value: Any, *, timeout: float | None) -> None:
    try:
        cache.set(key, value, timeout=timeout)
    except RedisError as exc:
        _cache_failed("set", exc)


def delete_many(keys: list[str]) -> None:
    try:
        cache.delete_many(keys)
    except RedisError as exc:
        _cache_failed("delete_many", exc)


def counter_add(key: str, delta: int, *, timeout: float | None) -> int | None:
    """Add ``delta`` to the integer at ``key`` and return the new value.

    A positive delta creates the counter (starting at 0, expiring after
    ``timeout`` seconds) if needed. A negative delta on a counter that has gone
    (expired or deleted) does nothing and returns None, as does a cache failure.
    """
    try:
        if delta > 0:
            cache.add(key, 0, timeout=timeout)
        return cache.incr(key, delta)
    except ValueError:
        return None
    except RedisError as exc:
        _cache_failed("incr", exc)
        return None
