"""``claim``: a mark taken once in every process; an unreachable Redis is an error, never an answer."""

import time

import pytest

from oauthgw.caching import shared_state
from oauthgw.exceptions import SharedStateUnavailable

pytestmark = pytest.mark.django_db

# A Redis nobody listens on: every call fails at once (connection refused).
UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "oauthgw.caching.redis.GatewayRedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


def test_a_key_is_claimed_once():
    assert shared_state.claim("claim-test", timeout=60) is True
    assert shared_state.claim("claim-test", timeout=60) is False
    assert shared_state.claim("claim-test-other", timeout=60) is True


def test_a_claim_can_be_made_again_once_it_has_expired():
    assert shared_state.claim("claim-expiring", timeout=1) is True

    time.sleep(1.1)

    assert shared_state.claim("claim-expiring", timeout=60) is True


def test_an_unreachable_redis_raises_and_keeps_raising_while_backing_off(settings, monkeypatch):
    monkeypatch.setattr(shared_state, "_unavailable_until", 0.0)
    settings.CACHES = UNREACHABLE_REDIS

    with pytest.raises(SharedStateUnavailable):
        shared_state.claim("claim-down", timeout=60)
    started = time.monotonic()
    with pytest.raises(SharedStateUnavailable):
        shared_state.claim("claim-down", timeout=60)

    # The second call does not wait for Redis again.
    assert time.monotonic() - started < 0.1
    # ``add``, by contrast, answers "not stored", as it always has.
    assert shared_state.add("claim-down", 1, timeout=60) is False
