"""Process-local copies stay coherent: whoever changes a key, the next lookup no longer sees the old copy.

These need the real Redis of the scale-out configuration (``REDIS_URL``); "another
instance" is a second Redis connection writing the same keys, as a gateway on
another host would.
"""

import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from oauthgw.caching import near_cache
from oauthgw.caching.near_cache import MISS, NearCache

pytestmark = pytest.mark.skipif(
    settings.CACHES["default"]["BACKEND"] != "oauthgw.caching.redis.GatewayRedisCache",
    reason="needs Redis (REDIS_URL): copies are only kept when Redis can invalidate them",
)

PREFIX = "oauthgw:test-near:"
KEY = PREFIX + "one"
# Created once: the tracking connection subscribes to the prefixes of every NearCache.
_copies = NearCache(PREFIX)
_shared = NearCache(PREFIX + "shared:", shared=True)


@pytest.fixture(autouse=True)
def _fresh_tracker():
    near_cache._tracker.reset()
    yield
    near_cache._tracker.reset()


@pytest.fixture
def other_instance():
    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    yield client
    client.close()


def copy_of(near: NearCache, key: str, value, seconds: float = 60) -> None:
    assert near_cache._tracker.synced()
    with near.filling(key) as keep:
        keep(value, seconds)


def test_a_copy_is_served_from_memory_without_asking_redis(monkeypatch):
    copy_of(_copies, KEY, {"scope": "hello"})
    monkeypatch.setattr(cache, "get", lambda *args, **kwargs: pytest.fail("asked the shared cache"))

    assert _copies.get(KEY) == {"scope": "hello"}


def test_copies_are_independent_unless_shared():
    copy_of(_copies, KEY, {"scope": "hello"})
    copy_of(_shared, PREFIX + "shared:k", {"scope": "hello"})

    _copies.get(KEY)["scope"] = "changed by a request"
    assert _copies.get(KEY) == {"scope": "hello"}
    assert _shared.get(PREFIX + "shared:k") is _shared.get(PREFIX + "shared:k")


def test_a_write_by_another_instance_drops_the_copy_before_the_next_lookup(other_instance):
    copy_of(_copies, KEY, "old")
    assert _copies.get(KEY) == "old"

    other_instance.set(cache.make_key(KEY), b"new")

    # No sleep: Redis has sent the invalidation before it answered the write.
    assert _copies.get(KEY) is MISS


def test_a_deletion_or_expiry_elsewhere_drops_the_copy(other_instance):
    other_instance.set(cache.make_key(KEY), b"x")
    copy_of(_copies, KEY, "x")

    other_instance.delete(cache.make_key(KEY))

    assert _copies.get(KEY) is MISS


def test_a_change_announced_while_the_value_was_being_read_cancels_the_copy(other_instance):
    assert near_cache._tracker.synced()
    with _copies.filling(KEY) as keep:
        value_read = "read before the change"
        other_instance.set(cache.make_key(KEY), b"changed")
        assert near_cache._tracker.synced()  # another thread applies the invalidation
        keep(value_read, 60)

    assert _copies.get(KEY) is MISS


def test_keys_outside_the_prefixes_leave_copies_alone(other_instance):
    copy_of(_copies, KEY, "kept")

    other_instance.set(cache.make_key("oauthgw:throttle:something"), b"1")

    assert _copies.get(KEY) == "kept"


def test_flushing_redis_drops_every_copy(other_instance):
    copy_of(_copies, KEY, "x")

    cache.clear()

    assert _copies.get(KEY) is MISS


def test_a_copy_expires(monkeypatch):
    copy_of(_copies, KEY, "x", seconds=0.05)
    time.sleep(0.1)

    assert _copies.get(KEY) is MISS


def test_no_copy_outlives_the_bearer_cache_lifetime(settings, monkeypatch):
    settings.OAUTHGW = {"BEARER_CACHE_SECONDS": 1}
    copy_of(_copies, KEY, "x", seconds=3600)
    clock = time.monotonic()
    monkeypatch.setattr(near_cache.time, "monotonic", lambda: clock + 1.5)

    assert _copies.get(KEY) is MISS


def test_a_lost_tracking_connection_turns_copies_off_until_it_is_back(other_instance, monkeypatch, caplog):
    copy_of(_copies, KEY, "x")
    tracking = near_cache._tracker._connection
    tracking.send_command("CLIENT", "ID")
    tracking_id = tracking.read_response()
    other_instance.client_kill_filter(_id=tracking_id)

    # The invalidations of that connection may be lost: nothing it copied is trusted.
    assert _copies.get(KEY) is MISS
    assert "tracking connection to Redis failed" in caplog.text
    with _copies.filling(KEY) as keep:
        keep("y", 60)
    assert _copies.get(KEY) is MISS

    monkeypatch.setattr(near_cache._tracker, "_retry_at", 0.0)
    copy_of(_copies, KEY, "z")
    assert _copies.get(KEY) == "z"


def test_the_number_of_copies_is_bounded(settings):
    settings.OAUTHGW = {"NEAR_CACHE_ENTRIES": 3}
    for n in range(5):
        copy_of(_copies, f"{PREFIX}{n}", n)

    kept = [n for n in range(5) if _copies.get(f"{PREFIX}{n}") is not MISS]
    assert kept == [2, 3, 4]


def test_without_redis_nothing_is_copied(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    assert not near_cache._tracker.synced()
    with _copies.filling(KEY) as keep:
        keep("x", 60)
    assert _copies.get(KEY) is MISS


def test_a_redis_that_refuses_tracking_leaves_copies_off_without_failing(monkeypatch, caplog):
    def refuse(self):
        raise redis.ResponseError("ERR unknown subcommand 'TRACKING'")

    monkeypatch.setattr(near_cache._Tracker, "_open", refuse)

    assert not near_cache._tracker.synced()
    assert _copies.get(KEY) is MISS
    assert "tracking connection to Redis failed" in caplog.text
