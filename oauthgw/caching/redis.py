"""Django's Redis cache, keeping one redis-py client per connection pool.

Django's ``RedisCacheClient`` builds a new ``redis.Redis`` for every cache call;
with redis-py 8 that object registers some 170 response callbacks on creation,
which cost more CPU than the Redis round trip itself (about 0.15 ms per call
here). A client is thread-safe and Django already keeps a cache object per
thread, so reusing it changes nothing but the cost. The bearer-token cache, the
throttle counters and the circuit breaker all go through this backend.

Django also checks every key of every call for what memcached would refuse
(over 250 characters, spaces, control characters) and only warns: the check walks
each key character by character, half the CPU of reading the login throttle's 15
bucket keys. Redis takes any key, and the gateway's keys are fixed prefixes and
hex digests, so this backend skips it.
"""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class GatewayRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient

    def validate_key(self, key):
        # Memcached's key limits; Redis has none, and the warning is all the check did.
        pass
