"""Clients that announce a body and go silent: dropped after the read timeout, health checks go on.

The gateway runs as deployed (``python -m gatewayproj.server``, the gateway's own
server), with the read timeout shortened to one second and fewer threads than
slow clients; and under gunicorn, which stays an option.
"""

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.deployments import Gateway, deployment_for_this_run
from tests.support.processes import DevAuthorizationServerProcess

pytestmark = pytest.mark.e2e

READ_TIMEOUT = 1.0
WORKERS, THREADS = 2, 4
SLOW_CLIENTS = 16
# Rounds of timeouts before the last silent client is dropped. The gateway's server waits
# for a body in its event loop, not in a thread: every silent client times out at once.
# gunicorn (still an option, gunicorn.conf.py) accepts every connection it can, so in
# the worst case all sixteen queue for one worker's four threads and each waits its turn.
ROUNDS = {"gateway": 1, "gunicorn": -(-SLOW_CLIENTS // THREADS)}
READ_TIMEOUT_VARIABLE = {"gateway": "GATEWAY_BODY_READ_TIMEOUT", "gunicorn": "GUNICORN_BODY_READ_TIMEOUT"}


@pytest.fixture(scope="module", params=["gateway", "gunicorn"])
def gateway(request, tmp_path_factory):
    upstream = DevAuthorizationServerProcess(tmp_path_factory.mktemp("upstream"), {"abc123": "xyz456"})
    upstream.start()
    try:
        with deployment_for_this_run(upstream.url, tmp_path_factory.mktemp("deployment")) as deployment:
            instance = Gateway(
                deployment,
                tmp_path_factory.mktemp("gateway") / "gateway.log",
                workers=WORKERS,
                threads=THREADS,
                extra_env={READ_TIMEOUT_VARIABLE[request.param]: str(READ_TIMEOUT)},
                server=request.param,
            )
            instance.server = request.param
            instance.client = deployment.create_client()
            yield instance
            instance.stop()
    finally:
        upstream.stop()


def slow_client(gateway) -> tuple[bytes, float]:
    """Announce 100 bytes, send 11, wait; return what the gateway answered and when."""
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.settimeout(30)
        sock.sendall(
            b"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type="
        )
        started = time.monotonic()
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
            if b"\r\n\r\n" in answer:
                break
        return answer, time.monotonic() - started


def test_silent_bodies_are_dropped_after_the_read_timeout_and_health_checks_keep_answering(gateway):
    for _ in range(2 * WORKERS * THREADS):  # every worker past its first, slower requests
        requests.post(f"{gateway.url}/oauth2/token", data={"grant_type": "client_credentials"}, timeout=10)
    with ThreadPoolExecutor(SLOW_CLIENTS + 1) as pool:
        slow = [pool.submit(slow_client, gateway) for _ in range(SLOW_CLIENTS)]
        time.sleep(0.3)
        started = time.monotonic()
        health = requests.get(f"{gateway.url}/healthz", timeout=10)
        health_seconds = time.monotonic() - started
        answers = [future.result(timeout=30) for future in slow]

    rounds = ROUNDS[gateway.server]
    assert health.status_code == 200
    # Every thread may be busy with a silent client, but only until its timeout.
    assert health_seconds < rounds * READ_TIMEOUT + 2
    for answer, seconds in answers:
        assert seconds < rounds * READ_TIMEOUT + 2
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:80]
    after = requests.post(
        f"{gateway.url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(gateway.client["client_id"], gateway.client["client_secret"]),
        timeout=10,
    )
    assert after.status_code == 200


def test_a_body_announced_over_the_size_limit_is_refused_with_413_without_being_read(gateway):
    if gateway.server != "gateway":
        pytest.skip("gunicorn hands the body to Django, whose size check answers 400")
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.settimeout(10)
        sock.sendall(
            b"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000000\r\n\r\ngrant_type="
        )
        answer = sock.recv(4096)

    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
