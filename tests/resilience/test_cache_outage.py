"""When the shared cache (Redis) is down or hangs, the token endpoint keeps answering.

The breaker and the throttle live in the cache; losing the cache must cost the
gateway those protections for a while, not its logins (the upstream keeps its own
lockout). Redis here is a closed loopback port, or one that accepts and never
answers, with short socket timeouts.
"""

import logging
import socket
import time
from urllib.parse import urlencode

import pytest
from django.test import override_settings

from oauthgw.caching import shared_state
from oauthgw.issuing import throttling
from oauthgw.upstream import breaker
from tests.oauthgw.conftest import PASSWORD, USERNAME, basic_authorization
from tests.support.faulty_servers import FaultyServer, serve_nothing

SOCKET_TIMEOUT = 0.3


@pytest.fixture(autouse=True)
def _forget_the_outage_afterwards(monkeypatch):
    # The backoff is per process: the next test must find the cache available again.
    monkeypatch.setattr(shared_state, "_unavailable_until", 0.0)


def redis_at(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": SOCKET_TIMEOUT, "socket_timeout": SOCKET_TIMEOUT},
        }
    }


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_down():
    with override_settings(CACHES=redis_at(f"redis://127.0.0.1:{closed_port()}/0")):
        yield


@pytest.fixture
def redis_hung():
    server = FaultyServer(serve_nothing)
    with override_settings(CACHES=redis_at(server.url.replace("http://", "redis://").replace("/token", "/0"))):
        yield
    server.close()


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


def start_login():
    limits = throttling.password_limits(
        server_name="default", username=USERNAME, client_id="app", client_ip="192.0.2.1"
    )
    return limits.start(shared_state.get_many(limits.keys))


def test_breaker_and_throttle_report_nothing_rather_than_fail(redis_down, caplog):
    caplog.set_level(logging.ERROR)
    assert breaker.breaker_state("default") == "closed"
    attempt = start_login()
    attempt.rejected()


def test_a_hung_cache_costs_one_socket_timeout_then_is_left_alone(redis_hung):
    started = time.monotonic()
    for _ in range(5):
        start_login().accepted()
        assert breaker.breaker_state("default") == "closed"
    assert time.monotonic() - started < SOCKET_TIMEOUT * 2 + 0.5


def test_a_cache_outage_is_logged_once_per_backoff(redis_down, caplog):
    caplog.set_level(logging.ERROR, logger="oauthgw.caching.shared_state")
    for _ in range(10):
        start_login().accepted()
    assert len(caplog.records) == 1


def test_helloworld_checks_tokens_in_the_database_while_the_cache_is_down(post_token, upstream, make_client, client):
    upstream.accepts()
    app = make_client()
    token = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=app).json()

    with override_settings(CACHES=redis_at(f"redis://127.0.0.1:{closed_port()}/0")):
        hello = client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token['access_token']}")
        revoked = client.post(
            "/oauth2/revoke",
            urlencode({"token": token["access_token"]}),
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
        )
        after = client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token['access_token']}")

    assert hello.status_code == 200
    assert revoked.status_code == 200
    assert after.status_code == 401
