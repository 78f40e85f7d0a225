"""The real development authorization server dies (or freezes) in the middle of a run of logins.

The gateway runs in this process (pytest-django's live server), the upstream is
``scripts/dev_authorization_server.py`` in its own process. During the outage
logins get 503 quickly, and once the logins of several users have failed and
the breaker's own probe too, the circuit is open and they get it without reaching
the upstream at all; after the upstream is back and the cool-down is over, logins
succeed again, without restarting the gateway.
"""

import time

import pytest
import requests

from oauthgw.upstream.breaker import breaker_state
from tests.oauthgw.conftest import basic_authorization
from tests.support.processes import DEV_AUTH_CLIENT, DevAuthorizationServerProcess

TIMEOUT = 1.0
THRESHOLD = 3
COOLDOWN = 2
USER, PASSWORD = "alice", "wonderland-2026"


@pytest.fixture
def upstream_process(tmp_path, settings):
    upstream = DevAuthorizationServerProcess(tmp_path, {USER: PASSWORD})
    upstream.start()
    settings.OAUTHGW = {
        **settings.OAUTHGW,
        "UPSTREAM_TOKEN_URL": upstream.url,
        "UPSTREAM_CLIENT_ID": DEV_AUTH_CLIENT[0],
        "UPSTREAM_CLIENT_SECRET": DEV_AUTH_CLIENT[1],
        "UPSTREAM_TIMEOUT": TIMEOUT,
        "UPSTREAM_BREAKER_THRESHOLD": THRESHOLD,
        "UPSTREAM_BREAKER_COOLDOWN": COOLDOWN,
    }
    yield upstream
    upstream.stop()


@pytest.fixture
def login(live_server, transactional_db, make_client):
    app = make_client()
    headers = {"Authorization": basic_authorization(app.client_id, app.raw_secret)}

    def post(username: str = USER) -> tuple[requests.Response, float]:
        started = time.monotonic()
        response = requests.post(
            f"{live_server.url}/oauth2/token",
            data={"grant_type": "password", "username": username, "password": PASSWORD},
            headers=headers,
            timeout=10,
        )
        return response, time.monotonic() - started

    return post


def assert_fast_503(response, elapsed: float, limit: float) -> None:
    assert response.status_code == 503, response.content
    assert response.json()["error"] == "temporarily_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    assert elapsed < limit


def run_outage(login, upstream, *, stop, restart, fault_latency: float) -> None:
    for _ in range(3):
        assert login()[0].status_code == 200

    stop()
    # The first faults, of as many users as the threshold, each cost at most the upstream
    # timeout; then the breaker's probe, in the background, finds the upstream down too
    # and opens the circuit.
    for n in range(THRESHOLD):
        assert_fast_503(*login(f"user-{n}"), limit=fault_latency)
    deadline = time.monotonic() + TIMEOUT + 1
    while breaker_state("default") != "open" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert breaker_state("default") == "open"
    # With the circuit open the gateway answers at once.
    for _ in range(5):
        assert_fast_503(*login(), limit=0.5)

    restart()
    # A thawed server first answers what was queued in its socket before the freeze.
    time.sleep(0.3)
    served = upstream.requests_served()
    # Back, but the cool-down is not over: still 503, and the upstream sees nothing.
    response, elapsed = login()
    assert_fast_503(response, elapsed, limit=0.5)
    assert upstream.requests_served() == served

    time.sleep(int(response.headers["Retry-After"]) + 0.2)
    assert breaker_state("default") == "half_open"
    for _ in range(3):
        assert login()[0].status_code == 200
    assert breaker_state("default") == "closed"


def test_killed_upstream_gives_fast_503s_and_logins_recover_after_restart(login, upstream_process):
    run_outage(login, upstream_process, stop=upstream_process.kill, restart=upstream_process.start, fault_latency=0.5)


def test_frozen_upstream_gives_503s_within_the_timeout_and_logins_recover_after_it_thaws(login, upstream_process):
    run_outage(
        login, upstream_process, stop=upstream_process.freeze, restart=upstream_process.thaw, fault_latency=TIMEOUT + 1
    )
