"""Process-local copies of shared-cache keys, kept coherent by Redis's client tracking.

A bearer-token check that reads Redis spends more CPU in the round trip than in
everything else it does. A copy in process memory removes the round trip, but
only if a change made at any instance reaches every copy at once. Redis does
that itself (client-side caching, "broadcasting mode"): each process keeps one extra connection on which it asked
``CLIENT TRACKING ON BCAST PREFIX ...``; from then on, every write, deletion or
expiry of a key under those prefixes, by anyone, pushes an ``invalidate`` message
to every tracking connection, in the same turn of Redis's event loop that
answers the write. Before each lookup a process reads what is waiting on its
connection (a non-blocking poll, no round trip) and drops the copies named, so a
revocation that has been answered is seen by every process's next request.

Each copy also expires after ``BEARER_CACHE_SECONDS`` (never later than its
shared entry would), and the tracking connection is pinged every few seconds:
if it breaks or goes silent, the process drops every copy and reads Redis and
the database directly until it is back. Without Redis (``REDIS_URL`` unset: a
single process with the local-memory cache) there is nothing to copy and the
near cache stays off.

By default each lookup hands out a fresh unpickled object, so a request may
change what it gets without touching what the next request gets. With
``shared=True`` every lookup hands out the one stored object: for the bearer
path, where unpickling a token with its client and user would cost as much as
the rest of the check, and whose callers only read what they get.
"""

import logging
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from redis.exceptions import RedisError

from oauthgw.caching.redis import GatewayRedisCache
from oauthgw.conf import gateway_settings

logger = logging.getLogger(__name__)

MISS = object()

# Seconds between checks that the tracking connection still delivers.
PING_INTERVAL = 5.0
# Seconds to wait before reconnecting after the connection failed.
RETRY_INTERVAL = 5.0
_REDIS_BACKEND = f"{GatewayRedisCache.__module__}.{GatewayRedisCache.__qualname__}"


class NearCache:
    """Copies of the shared-cache keys under ``prefix``, each dropped when Redis says it changed.

    With ``shared=True`` lookups return the stored object itself, which callers must
    not change. ``key_of`` maps a changed Redis key to the key of the copy it
    affects, for a copy computed from several keys (a throttle counter's buckets).
    """

    def __init__(
        self,
        prefix: str,
        *,
        shared: bool = False,
        key_of: Callable[[str], str] | None = None,
    ) -> None:
        self.prefix = prefix
        self.shared = shared
        self.key_of = key_of
        self._entries: dict[str, tuple[Any, float]] = {}
        self._fills: dict[str, object] = {}
        self._lock = threading.Lock()
        _tracker.register(self)

    def get(self, key: str) -> Any:
        """The copy of ``key``, or MISS (also whenever tracking is not live)."""
        if not _tracker.synced():
            return MISS
        found = self._entries.get(key)
        if found is None:
            return MISS
        value, expires = found
        if time.monotonic() >= expires:
            self._entries.pop(key, None)
            return MISS
        if self.shared:
            return value
        return pickle.loads(value)  # noqa: S301 - bytes this process pickled itself

    @contextmanager
    def filling(self, key: str) -> Iterator[Callable[[Any, float], None]]:
        """Read the value to copy inside this block, then hand it to the function it yields.

        Started before the read, so that a change announced while the read is
        under way (it may have read the old value) cancels the copy.
        """
        ticket = object()
        self._fills[key] = ticket

        def keep(value: Any, seconds: float) -> None:
            seconds = min(seconds, gateway_settings.BEARER_CACHE_SECONDS)
            limit = gateway_settings.NEAR_CACHE_ENTRIES
            if seconds <= 0 or limit <= 0 or not _tracker.live():
                return
            if not self.shared:
                value = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
            with self._lock:
                if self._fills.get(key) is not ticket:
                    return
                while len(self._entries) >= limit:
                    self._entries.pop(next(iter(self._entries)), None)
                self._entries[key] = (value, time.monotonic() + seconds)

        try:
            yield keep
        finally:
            with self._lock:
                if self._fills.get(key) is ticket:
                    del self._fills[key]

    def invalidate(self, keys: list[str]) -> None:
        if self.key_of is not None:
            keys = [self.key_of(key) for key in keys]
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)
                self._fills.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._fills.clear()


class _Tracker:
    """This process's tracking connection to Redis, shared by every NearCache."""

    def __init__(self) -> None:
        self._caches: list[NearCache] = []
        self._lock = threading.Lock()
        self._pid = 0
        self._connection = None
        self._retry_at = 0.0
        self._ping_at = 0.0

    def register(self, near_cache: NearCache) -> None:
        self._caches.append(near_cache)
        # A connection opened before tracks the earlier prefixes only.
        self.reset()

    def live(self) -> bool:
        return self._connection is not None and self._pid == os.getpid()

    def synced(self) -> bool:
        """Apply every invalidation Redis has sent so far; False if copies cannot be trusted."""
        if not self.live() and not self._connect():
            return False
        with self._lock:
            connection = self._connection
            if connection is None:
                return False
            try:
                while connection.can_read(timeout=0):
                    # Redis writes each message whole: waiting for its rest takes no time.
                    connection.read_response(push_request=True)
                if time.monotonic() >= self._ping_at:
                    connection.send_command("PING")
                    # Push messages before the answer go to the handler on the way.
                    connection.read_response()
                    self._ping_at = time.monotonic() + PING_INTERVAL
            # Whatever breaks here turns the copies off; it never fails a request.
            except Exception as exc:
                self._lost(exc)
                return False
        return True

    def _connect(self) -> bool:
        if not _enabled() or time.monotonic() < self._retry_at:
            return False
        with self._lock:
            if self.live():
                return True
            # A forked worker must not read its parent's socket.
            self._connection = None
            self._pid = os.getpid()
            try:
                self._connection = self._open()
            # As in synced(): no failure here may fail a request.
            except Exception as exc:
                self._lost(exc)
                return False
            self._ping_at = time.monotonic() + PING_INTERVAL
        return True

    def _open(self):
        import redis

        options = settings.CACHES["default"].get("OPTIONS", {})
        client = redis.Redis.from_url(
            settings.CACHES["default"]["LOCATION"],
            protocol=3,
            socket_timeout=options.get("socket_timeout", 1),
            socket_connect_timeout=options.get("socket_connect_timeout", 1),
            socket_keepalive=True,
        )
        connection = client.connection_pool.make_connection()
        try:
            connection.connect()
            connection._parser.set_invalidation_push_handler(self._invalidated)
            # Redis refuses overlapping prefixes: the shorter one covers both.
            prefixes = []
            for prefix in sorted(cache.make_key(near_cache.prefix) for near_cache in self._caches):
                if not prefixes or not prefix.startswith(prefixes[-1]):
                    prefixes.append(prefix)
            options = [word for prefix in prefixes for word in ("PREFIX", prefix)]
            connection.send_command("CLIENT", "TRACKING", "ON", "BCAST", *options)
            connection.read_response()
        except BaseException:
            # Redis before 6 (no tracking) or a refused command: retried later, never leaked.
            connection.disconnect()
            raise
        # Copies made before this connection existed were never tracked.
        for near_cache in self._caches:
            near_cache.clear()
        return connection

    def _invalidated(self, message) -> None:
        keys = message[1]
        if keys is None:  # FLUSHDB / FLUSHALL
            for near_cache in self._caches:
                near_cache.clear()
            return
        # Redis names keys as stored: with the cache's version and key prefix.
        head = cache.make_key("")
        names = [key.decode() if isinstance(key, bytes) else key for key in keys]
        names = [name[len(head) :] for name in names if name.startswith(head)]
        for near_cache in self._caches:
            mine = [name for name in names if name.startswith(near_cache.prefix)]
            if mine:
                near_cache.invalidate(mine)

    def reset(self) -> None:
        """Forget the connection and every copy (the cache settings changed)."""
        with self._lock:
            self._drop(retry_at=0.0)

    def _lost(self, exc: Exception) -> None:
        # Called with self._lock held.
        self._drop(retry_at=time.monotonic() + RETRY_INTERVAL)
        logger.warning("near cache off for %gs: tracking connection to Redis failed (%s)", RETRY_INTERVAL, exc)

    def _drop(self, *, retry_at: float) -> None:
        # Called with self._lock held: no copy outlives the connection that tracked it.
        connection, self._connection = self._connection, None
        self._retry_at = retry_at
        for near_cache in self._caches:
            near_cache.clear()
        if connection is not None:
            try:
                connection.disconnect()
            except (RedisError, OSError):
                pass


def _enabled() -> bool:
    return (
        settings.CACHES["default"]["BACKEND"] == _REDIS_BACKEND
        and gateway_settings.NEAR_CACHE_ENTRIES > 0
        and gateway_settings.BEARER_CACHE_SECONDS > 0
    )


_tracker = _Tracker()


def _settings_changed(*, setting: str, **kwargs) -> None:
    if setting in ("CACHES", "OAUTHGW"):
        _tracker.reset()


setting_changed.connect(_settings_changed, dispatch_uid="oauthgw.caching.near_cache.settings_changed")
