"""When Redis is down or hangs, the token endpoint and the API keep answering, within bounded time.

Redis here is the production configuration: the gateway's own backend
(``oauthgw.caching.redis.GatewayRedisCache``, as ``REDIS_URL`` sets it), so the
bearer cache and each process's near cache (its Redis tracking connection) are
on, pointed at a closed loopback port (refused at once) or at one that accepts
and never answers (each call waits out the socket timeout). Losing Redis must
cost the gateway its breaker, its throttle and its caches for a while, not its
logins or its APIs (the upstream keeps its own lockout).
"""

import logging
import socket
import time
from urllib.parse import urlencode

import pytest
from django.test import override_settings

from oauthgw.caching import near_cache, shared_state
from oauthgw.issuing import throttling
from oauthgw.upstream import breaker
from tests.oauthgw.conftest import PASSWORD, USERNAME, basic_authorization
from tests.support.dpop import DPoPKey
from tests.support.faulty_servers import FaultyServer, serve_nothing

SOCKET_TIMEOUT = 0.3
# A request may wait out a few socket timeouts (the shared state, the near cache's tracker)
# before each backs off; never the dozens a retrying client or an unbounded wait would cost.
ANSWER_WITHIN = 6 * SOCKET_TIMEOUT
TOKEN_HTU = "http://testserver/oauth2/token"


@pytest.fixture(autouse=True)
def _forget_the_outage_afterwards(monkeypatch):
    # The backoffs are per process: the next test must find Redis available again.
    monkeypatch.setattr(shared_state, "_unavailable_until", 0.0)
    yield
    near_cache._tracker.reset()


def redis_at(url: str) -> dict:
    """CACHES as gatewayproj/settings.py builds it from REDIS_URL, with shorter socket timeouts."""
    return {
        "default": {
            "BACKEND": "oauthgw.caching.redis.GatewayRedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": SOCKET_TIMEOUT, "socket_timeout": SOCKET_TIMEOUT},
        }
    }


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["down", "hung"])
def redis_outage(request):
    """Redis refusing connections, or accepting them and never answering; yields which."""
    if request.param == "down":
        with override_settings(CACHES=redis_at(f"redis://127.0.0.1:{closed_port()}/0")):
            yield request.param
        return
    server = FaultyServer(serve_nothing)
    try:
        with override_settings(CACHES=redis_at(server.url.replace("http://", "redis://").replace("/token", "/0"))):
            yield request.param
    finally:
        server.close()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def login(post_token, app, password: str = PASSWORD):
    return post_token({"grant_type": "password", "username": USERNAME, "password": password}, app=app)


def test_the_production_backend_and_the_near_cache_are_what_is_tested(redis_outage):
    assert shared_state.uses_redis()
    assert near_cache._enabled()


def test_password_logins_keep_answering(post_token, upstream, make_client, redis_outage, caplog):
    upstream.accepts()
    app = make_client()

    answers = [timed(lambda: login(post_token, app)) for _ in range(3)]

    assert [response.status_code for response, _ in answers] == [200, 200, 200]
    assert max(seconds for _, seconds in answers) < ANSWER_WITHIN
    assert any("shared cache unavailable" in record.getMessage() for record in caplog.records)


def test_a_wrong_password_is_still_invalid_grant_and_a_fault_still_503(post_token, upstream, make_client, redis_outage):
    app = make_client()
    upstream.rejects()
    wrong, wrong_seconds = timed(lambda: login(post_token, app, password="wrong"))
    upstream.mock.reset()
    upstream.answers(502)
    fault, fault_seconds = timed(lambda: login(post_token, app))

    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_grant")
    assert (fault.status_code, fault.json()["error"]) == (503, "temporarily_unavailable")
    assert max(wrong_seconds, fault_seconds) < ANSWER_WITHIN


def test_the_api_keeps_answering_and_a_revocation_still_acts_at_once(post_token, make_client, client, redis_outage):
    app = make_client(grant_types="client_credentials")
    issued, issued_seconds = timed(lambda: post_token({"grant_type": "client_credentials"}, app=app))
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {issued.json()['access_token']}"}

    calls = [timed(lambda: client.get("/helloworld/", **bearer)) for _ in range(3)]
    revoked = client.post(
        "/oauth2/revoke",
        urlencode({"token": issued.json()["access_token"]}),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
    )
    after = client.get("/helloworld/", **bearer)

    assert issued.status_code == 200 and issued_seconds < ANSWER_WITHIN
    assert [response.status_code for response, _ in calls] == [200, 200, 200]
    assert max(seconds for _, seconds in calls) < ANSWER_WITHIN
    assert revoked.status_code == 200
    assert after.status_code == 401


def test_dpop_requests_get_503_with_retry_after_while_bearer_ones_are_served(
    post_token, make_client, client, redis_outage, settings
):
    # Their proofs cannot be checked for replay: refused (fail closed), within bounded time, never a 500.
    app = make_client(grant_types="client_credentials")
    key = DPoPKey()
    settings.OAUTHGW = {**settings.OAUTHGW, "DPOP_REPLAY_CHECK_REQUIRED": False}
    unchecked = post_token({"grant_type": "client_credentials"}, app=app, HTTP_DPOP=key.proof("POST", TOKEN_HTU))
    bound = unchecked.json()["access_token"]
    settings.OAUTHGW = {**settings.OAUTHGW, "DPOP_REPLAY_CHECK_REQUIRED": True}

    token, token_seconds = timed(
        lambda: post_token({"grant_type": "client_credentials"}, app=app, HTTP_DPOP=key.proof("POST", TOKEN_HTU))
    )
    api, api_seconds = timed(
        lambda: client.get(
            "/helloworld/",
            HTTP_AUTHORIZATION=f"DPoP {bound}",
            HTTP_DPOP=key.proof("GET", "http://testserver/helloworld/", access_token=bound),
        )
    )
    bearer = post_token({"grant_type": "client_credentials"}, app=app)

    assert unchecked.json()["token_type"] == "DPoP"
    for response in (token, api):
        assert (response.status_code, response.json()["error"]) == (503, "temporarily_unavailable")
        assert int(response["Retry-After"]) >= 1
    assert max(token_seconds, api_seconds) < ANSWER_WITHIN
    assert bearer.json()["token_type"] == "Bearer"


def test_the_near_cache_turns_itself_off_once_and_hands_out_nothing(redis_outage, caplog):
    caplog.set_level(logging.WARNING, logger="oauthgw.caching.near_cache")
    copies = near_cache.NearCache("oauthgw:test-outage:")
    try:
        started = time.monotonic()
        lookups = [copies.get("oauthgw:test-outage:key") for _ in range(20)]
        seconds = time.monotonic() - started
    finally:
        near_cache._tracker._caches.remove(copies)

    assert lookups == [near_cache.MISS] * 20
    assert seconds < ANSWER_WITHIN
    assert [record.getMessage().split(":")[0] for record in caplog.records] == ["near cache off for 5s"], (
        "one warning per retry interval, not one per lookup"
    )


def start_login():
    limits = throttling.password_limits(
        server_name="default", username=USERNAME, client_id="app", client_ip="192.0.2.1"
    )
    return limits.start(shared_state.get_many(limits.keys))


def test_breaker_and_throttle_report_nothing_rather_than_fail(redis_outage):
    assert breaker.breaker_state("default") == "closed"
    start_login().rejected()


def test_an_outage_costs_one_wait_then_redis_is_left_alone(redis_outage):
    started = time.monotonic()
    for _ in range(10):
        start_login().accepted()
        assert breaker.breaker_state("default") == "closed"

    assert time.monotonic() - started < SOCKET_TIMEOUT * 2 + 0.5


def test_an_outage_is_logged_once_per_backoff(redis_outage, caplog):
    caplog.set_level(logging.ERROR, logger="oauthgw.caching.shared_state")
    for _ in range(10):
        start_login().accepted()

    assert len(caplog.records) == 1
