"""State every gateway process must see alike: failure counters, the circuit breaker, marks.

Two stores, one interface. With ``REDIS_URL`` set the state lives in Redis (the
shared cache). Without it, it lives in the database every process already
shares (``SharedValue`` rows), so a counter or an open circuit is the same in
every worker process of the embedded default: Redis makes this faster, never
correct. Every write is one atomic statement (an upsert, an increment, a delete),
so concurrent requests never overwrite each other's counts.

If Redis fails, these helpers answer as if nothing were stored: for that time
the gateway runs without its breaker and its throttle rather than without its
token endpoint (the upstream keeps its own lockout). After a failure the process
leaves Redis alone for ``BACKOFF`` seconds, so a Redis that hangs costs one
socket timeout per process every few seconds, not one per call, and the log gets
one line per backoff, not one per request. ``claim`` alone raises instead
(``SharedStateUnavailable``), for marks whose absence would let something through
twice. A database that fails fails the request, as every other query of it would.
"""

import functools
import itertools
import json
import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.db import connections, router
from django.utils.module_loading import import_string
from redis.exceptions import RedisError

from oauthgw.exceptions import SharedStateUnavailable
from oauthgw.models import SharedValue

logger = logging.getLogger(__name__)

BACKOFF = 5.0
# One write in this many also deletes the expired rows of the database store.
_PURGE_EVERY = 500

_lock = threading.Lock()
_unavailable_until = 0.0
_writes = itertools.count()


def uses_redis() -> bool:
    """Whether the shared cache is Redis, which every process and instance reaches."""
    return _is_redis(settings.CACHES["default"]["BACKEND"])


@functools.lru_cache(maxsize=8)
def _is_redis(backend: str) -> bool:
    return issubclass(import_string(backend), RedisCache)


# --- Redis (the shared cache) ------------------------------------------------------


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


def _redis(operation: str, call, fallback):
    if not _available():
        return fallback
    try:
        return call()
    except RedisError as exc:
        _failed(operation, exc)
        return fallback


def _redis_counter_add(key: str, delta: int, timeout: float | None) -> int | None:
    if delta > 0:
        cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key, delta)
    except ValueError:
        return None


def _redis_counters_add(deltas: dict[str, int], timeout: float | None) -> dict[str, int]:
    # One pipelined round trip. Each counter is created with its expiry first
    # (SET NX), so that even a decrement of one that has just expired leaves
    # nothing behind for longer than ``timeout``; readers clamp negatives to 0.
    client = cache._cache.get_client(write=True)
    pipeline = client.pipeline(transaction=False)
    expiry = None if timeout is None else max(1, int(timeout))
    for key, delta in deltas.items():
        name = cache.make_key(key)
        pipeline.set(name, 0, nx=True, ex=expiry)
        pipeline.incrby(name, delta)
    answers = pipeline.execute()
    return {key: int(answer) for key, answer in zip(deltas, answers[1::2], strict=True)}


# --- The database (no Redis) -------------------------------------------------------


@functools.cache
def _sql(alias: str) -> dict[str, str]:
    quote = connections[alias].ops.quote_name
    meta = SharedValue._meta
    t = quote(meta.db_table)
    k, v, n, e = (quote(meta.get_field(name).column) for name in ("key", "value", "number", "expires"))
    insert = f"INSERT INTO {t} ({k}, {v}, {n}, {e}) VALUES (%s, %s, %s, %s) ON CONFLICT ({k}) DO UPDATE SET "  # noqa: S608
    # Identifiers come from the model, quoted; every value is a parameter. A
    # counter's value is "", which no JSON document is.
    return {
        "get": f"SELECT {k}, {v}, {n} FROM {t} WHERE {e} > %s AND {k} IN ",  # noqa: S608
        "put": insert + f"{v} = excluded.{v}, {n} = 0, {e} = excluded.{e}",
        # Stores only over a missing or expired row: the row count says whether it did.
        "add": insert + f"{v} = excluded.{v}, {n} = 0, {e} = excluded.{e} WHERE {t}.{e} <= %s",
        # An expired counter starts again from the delta, with a new expiry.
        "increment": insert
        + f"{n} = CASE WHEN {t}.{e} <= %s THEN excluded.{n} ELSE {t}.{n} + excluded.{n} END, {v} = '', "
        + f"{e} = CASE WHEN {t}.{e} <= %s THEN excluded.{e} ELSE {t}.{e} END RETURNING {n}",
        "decrement": f"UPDATE {t} SET {n} = {n} + %s WHERE {k} = %s AND {e} > %s RETURNING {n}",  # noqa: S608
        "delete": f"DELETE FROM {t} WHERE {k} IN ",  # noqa: S608
        "purge": f"DELETE FROM {t} WHERE {e} <= %s",  # noqa: S608
    }


def _alias() -> str:
    return router.db_for_write(SharedValue)


def _expiry(timeout: float | None) -> float:
    # No timeout: kept for a year, which outlives everything stored here.
    return time.time() + (timeout if timeout is not None else 365 * 24 * 3600)


def _placeholders(count: int) -> str:
    return "(" + ", ".join(["%s"] * count) + ")"


def _execute(sql: str, params: list, *, fetch: bool = False, rowcount: bool = False):
    alias = _alias()
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        if fetch:
            return cursor.fetchall()
        if rowcount:
            return cursor.rowcount
    return None


def _wrote() -> None:
    if next(_writes) % _PURGE_EVERY == 0:
        _execute(_sql(_alias())["purge"], [time.time()])


def _db_get_many(keys: list[str]) -> dict[str, Any]:
    if not keys:
        return {}
    rows = _execute(_sql(_alias())["get"] + _placeholders(len(keys)), [time.time(), *keys], fetch=True)
    return {key: (json.loads(value) if value else number) for key, value, number in rows}


def _db_put(key: str, value: Any, timeout: float | None) -> None:
    _execute(_sql(_alias())["put"], [key, json.dumps(value), 0, _expiry(timeout)])
    _wrote()


def _db_add(key: str, value: Any, timeout: float | None) -> bool:
    params = [key, json.dumps(value), 0, _expiry(timeout), time.time()]
    stored = _execute(_sql(_alias())["add"], params, rowcount=True)
    _wrote()
    return stored == 1


def _db_counter_add(key: str, delta: int, timeout: float | None, *, create: bool = False) -> int | None:
    now = time.time()
    sql = _sql(_alias())
    if delta > 0 or create:
        rows = _execute(sql["increment"], [key, "", delta, _expiry(timeout), now, now], fetch=True)
        _wrote()
    else:
        rows = _execute(sql["decrement"], [delta, key, now], fetch=True)
    return int(rows[0][0]) if rows else None


def _db_delete_many(keys: list[str]) -> None:
    if keys:
        _execute(_sql(_alias())["delete"] + _placeholders(len(keys)), list(keys))


# --- The interface -----------------------------------------------------------------
# Values must be JSON-serialisable (numbers, strings, booleans, lists, dicts): the
# database stores them as JSON. Only the bearer cache, which runs with Redis alone,
# stores pickled rows.


def get(key: str) -> Any:
    if not uses_redis():
        return _db_get_many([key]).get(key)
    return _redis("get", lambda: cache.get(key), None)


def get_many(keys: list[str]) -> dict[str, Any]:
    if not uses_redis():
        return _db_get_many(keys)
    return _redis("get_many", lambda: cache.get_many(keys), {})


def add(key: str, value: Any, *, timeout: float | None) -> bool:
    """Store ``value`` unless ``key`` exists; True if this call stored it."""
    if not uses_redis():
        return _db_add(key, value, timeout)
    return _redis("add", lambda: cache.add(key, value, timeout=timeout), False)


def claim(key: str, *, timeout: float) -> bool:
    """Mark ``key`` as taken unless it is; True if this call took it (for ``timeout`` seconds).

    Unlike ``add``, a Redis that cannot answer raises ``SharedStateUnavailable``:
    for a caller that must accept a thing at most once (a DPoP proof's ``jti``),
    "unknown" is neither answer, and the caller decides what an outage means.
    """
    if not uses_redis():
        return _db_add(key, 1, timeout)
    if not _available():
        raise SharedStateUnavailable("the shared cache failed within the last few seconds")
    try:
        return cache.add(key, 1, timeout=timeout)
    except RedisError as exc:
        _failed("claim", exc)
        raise SharedStateUnavailable("the shared cache did not answer") from exc


def put(key: str, value: Any, *, timeout: float | None) -> None:
    if not uses_redis():
        _db_put(key, value, timeout)
        return
    _redis("set", lambda: cache.set(key, value, timeout=timeout), None)


def counters_add(deltas: dict[str, int], *, timeout: float | None) -> dict[str, int]:
    """Add each delta to its counter in one round trip; return the new values.

    A counter that does not exist (or has expired) starts at 0 and expires after
    ``timeout`` seconds. Values may go below 0 after a decrement of an expired
    counter; readers treat that as 0. A Redis failure returns {} (nothing counted).
    """
    if not deltas:
        return {}
    if not uses_redis():
        return {key: _db_counter_add(key, delta, timeout, create=True) for key, delta in deltas.items()}
    return _redis("counters_add", lambda: _redis_counters_add(deltas, timeout), {})


def delete_many(keys: list[str]) -> None:
    if not uses_redis():
        _db_delete_many(keys)
        return
    _redis("delete_many", lambda: cache.delete_many(keys), None)


def counter_add(key: str, delta: int, *, timeout: float | None) -> int | None:
    """Add ``delta`` to the integer at ``key`` and return the new value.

    A positive delta creates the counter (starting at 0, expiring after
    ``timeout`` seconds) if needed. A negative delta on a counter that has gone
    (expired or deleted) does nothing and returns None, as does a Redis failure.
    """
    if not uses_redis():
        return _db_counter_add(key, delta, timeout)
    return _redis("incr", lambda: _redis_counter_add(key, delta, timeout), None)
