"""An upstream that answers failed logins after the timeout and good ones at once, behind a live gateway.

Such an upstream (a tar pit: Glewlwyd with a slow password hash, any directory
that delays failures) turns every wrong password into a fault of the gateway's
call. One source sending wrong passwords, a few at a time, again and again, must
not make the gateway refuse anybody else: its faults are charged to its own
limits, the circuit breaker opens only for faults from many sources *and* a
failed probe (which this upstream answers at once: it refuses an unknown grant
type before it looks at any user), and an address whose calls were slow holds at
most ``THROTTLE_IP_CONCURRENCY`` of each worker's threads.

The gateway is the run's deployment served by ``gatewayproj.server`` with two
worker processes, behind one trusted proxy (each request names its end user's
address in ``X-Forwarded-For``), with the breaker's shipped threshold and
cool-down.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from oauthgw.upstream.client import PROBE_GRANT_TYPE
from tests.support.deployments import Gateway, deployment_for_this_run
from tests.support.stub_upstream import StubUpstream

pytestmark = pytest.mark.e2e

OWNER, OWNER_PASSWORD = "abc123", "xyz456"
UPSTREAM_TIMEOUT = 1
ATTACKER, VICTIM = "203.0.113.66", "198.51.100.7"
ROUNDS, AT_ONCE = 3, 5


@pytest.fixture(scope="module")
def upstream():
    stub = StubUpstream({OWNER: OWNER_PASSWORD}, slow_seconds=UPSTREAM_TIMEOUT + 0.5, tarpit=True)
    yield stub
    stub.close()


@pytest.fixture(scope="module")
def deployment(upstream, tmp_path_factory):
    settings = {"OAUTHGW_TRUSTED_PROXY_COUNT": "1", "OAUTHGW_UPSTREAM_TIMEOUT": str(UPSTREAM_TIMEOUT)}
    with deployment_for_this_run(upstream.url, tmp_path_factory.mktemp("deployment"), **settings) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def gateway(deployment, tmp_path_factory):
    instance = Gateway(deployment, tmp_path_factory.mktemp("gateway") / "gateway.log", workers=2, threads=4)
    yield instance
    instance.stop()


def login(gateway, client, username: str, password: str, source: str) -> tuple[int, float, float]:
    """(status, when it was sent, how long the answer took)."""
    started = time.monotonic()
    response = requests.post(
        f"{gateway.url}/oauth2/token",
        data={"grant_type": "password", "username": username, "password": password},
        auth=(client["client_id"], client["client_secret"]),
        headers={"X-Forwarded-For": source},
        timeout=30,
    )
    return response.status_code, started, time.monotonic() - started


def test_one_sources_slow_failures_do_not_refuse_another_clients_correct_login(gateway, deployment, upstream):
    attacker, victim = deployment.create_client(), deployment.create_client()
    assert login(gateway, victim, OWNER, OWNER_PASSWORD, VICTIM)[0] == 200
    stop = threading.Event()
    victim_logins: list[tuple[int, float, float]] = []

    def victim_logs_in():
        while not stop.is_set():
            victim_logins.append(login(gateway, victim, OWNER, OWNER_PASSWORD, VICTIM))
            time.sleep(0.2)

    watcher = threading.Thread(target=victim_logs_in)
    watcher.start()
    rounds: list[list[int]] = []
    try:
        with ThreadPoolExecutor(AT_ONCE) as pool:
            for round_ in range(ROUNDS):
                # Wrong passwords, several at once, each answered only after the gateway gave up.
                guesses = [(f"guess-{round_}-{n}", "wrong") for n in range(AT_ONCE)]
                answers = pool.map(lambda guess: login(gateway, attacker, *guess, ATTACKER), guesses)
                rounds.append([status for status, *_ in answers])
                if round_ == 0:
                    first_round_over = time.monotonic()
                time.sleep(0.5)
        time.sleep(UPSTREAM_TIMEOUT)  # whatever the breaker does about it, it has done
        after = [login(gateway, victim, OWNER, OWNER_PASSWORD, VICTIM) for _ in range(3)]
    finally:
        stop.set()
        watcher.join(30)

    # Never a 503 for the other client: the circuit stayed closed.
    assert len(victim_logins) >= 10
    assert {status for status, *_ in victim_logins + after} == {200}, (victim_logins, after)
    # Once the attacker's address was seen to be slow, it held at most its share of each worker's
    # threads, so the other client's logins never waited for one held by the tar pit.
    later = [seconds for _, started, seconds in victim_logins + after if started > first_round_over]
    assert later and max(later) < UPSTREAM_TIMEOUT, later
    # The attacker got the faults it caused, or was refused at once (its share used up); never a token.
    assert {status for statuses in rounds for status in statuses} <= {503, 429}, rounds
    assert 503 in rounds[0] and all(429 in statuses for statuses in rounds[1:]), rounds
    # The breaker asked the upstream itself and found it answering.
    assert upstream.grant_count(PROBE_GRANT_TYPE) >= 1
