"""When the shared cache (Redis) is down, the token endpoint keeps answering.

The breaker and the throttle live in the cache; losing the cache must cost the
gateway those protections for a while, not its logins (the upstream keeps its own
lockout). Redis here is a closed loopback port with short socket timeouts.
"""

import logging
import socket

import pytest
from django.test import override_settings

from oauthgw import circuit_breaker, throttling
from tests.oauthgw.conftest import PASSWORD, USERNAME


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_down():
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    with override_settings(CACHES=caches):
        yield


def test_password_login_works_while_the_cache_is_down(post_token, upstream, make_client, redis_down, caplog):
    upstream.accepts()

    response = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=make_client())

    assert response.status_code == 200, response.content
    assert any("shared cache unavailable" in record.getMessage() for record in caplog.records)


def test_a_wrong_password_is_still_invalid_grant_while_the_cache_is_down(post_token, upstream, make_client, redis_down):
    upstream.rejects()

    response = post_token({"grant_type": "password", "username": USERNAME, "password": "wrong"}, app=make_client())

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"


def test_an_upstream_fault_is_still_503_while_the_cache_is_down(post_token, upstream, make_client, redis_down):
    upstream.answers(502)

    response = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=make_client())

    assert response.status_code == 503


def test_breaker_and_throttle_report_nothing_rather_than_fail(redis_down, caplog):
    caplog.set_level(logging.ERROR)
    assert circuit_breaker.breaker_state("default") == "closed"
    throttling.client_ip_check("192.0.2.1")
    attempt = throttling.password_attempt_start(
        server_name="default", username=USERNAME, client_id="app", client_ip="192.0.2.1"
    )
    attempt.rejected()
