"""One address holding thousands of idle connections and a thousand stalled bodies: the others are served.

The gateway runs as deployed (``python -m gatewayproj.server``, two workers) on
this run's deployment (embedded, or PostgreSQL + Redis), with no proxy in front.
The flood comes from 127.0.0.2 (Linux routes all of 127/8 to the loopback): 5,000
connections that never send a byte and 1,000 that send headers and part of a
body, then go silent. While they are held open, a client at another address — and
one at the flooding address itself — gets ``/healthz``, a token and a HelloWorld
answer each within a second.
"""

import resource
import socket
import time

import pytest
import requests

from tests.support.deployments import Gateway, deployment_for_this_run
from tests.support.processes import DevAuthorizationServerProcess

pytestmark = pytest.mark.e2e

FLOOD_ADDRESS = "127.0.0.2"
IDLE, STALLED = 5000, 1000
WORKERS = 2


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * (IDLE + STALLED))), hard))
    upstream = DevAuthorizationServerProcess(tmp_path_factory.mktemp("upstream"), {"abc123": "xyz456"})
    upstream.start()
    try:
        with deployment_for_this_run(upstream.url, tmp_path_factory.mktemp("deployment")) as deployment:
            instance = Gateway(deployment, tmp_path_factory.mktemp("gateway") / "gateway.log", workers=WORKERS)
            try:
                instance.client = deployment.create_client(grant_types="password,client_credentials")
                yield instance
            finally:
                instance.stop()
    finally:
        upstream.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def flood(port: int) -> list[socket.socket]:
    sockets = []
    for _ in range(IDLE):
        sock = socket.socket()
        sock.bind((FLOOD_ADDRESS, 0))
        sock.setblocking(False)
        try:
            sock.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        sockets.append(sock)
    for _ in range(STALLED):
        sock = socket.socket()
        sock.bind((FLOOD_ADDRESS, 0))
        sock.settimeout(5)
        try:
            sock.connect(("127.0.0.1", port))
            sock.sendall(
                b"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type="
            )
        except OSError:
            pass  # already displaced by the next ones: the flood only crowds out its own
        sockets.append(sock)
    return sockets


def session_from(address: str) -> requests.Session:
    session = requests.Session()
    session.get_adapter("http://").init_poolmanager(1, 1, source_address=(address, 0))
    return session


@pytest.mark.parametrize("client_address", ["127.0.0.1", FLOOD_ADDRESS], ids=["another address", "the same address"])
def test_a_flood_of_idle_and_stalled_connections_from_one_address_does_not_stop_others(gateway, client_address):
    token = gateway.token(gateway.client, grant_type="client_credentials").json()["access_token"]
    sockets = flood(gateway.port)
    try:
        time.sleep(0.5)
        session = session_from(client_address)
        timings = {}
        for name, call in {
            "healthz": lambda: session.get(f"{gateway.url}/healthz", timeout=5),
            "token": lambda: session.post(
                f"{gateway.url}/oauth2/token",
                data={"grant_type": "password", "username": "abc123", "password": "xyz456"},
                auth=(gateway.client["client_id"], gateway.client["client_secret"]),
                timeout=5,
            ),
            "bearer": lambda: session.get(
                f"{gateway.url}/helloworld/", headers={"Authorization": f"Bearer {token}"}, timeout=5
            ),
        }.items():
            started = time.monotonic()
            answer = call()
            timings[name] = (answer.status_code, time.monotonic() - started)
    finally:
        for sock in sockets:
            sock.close()

    assert all(status == 200 for status, _ in timings.values()), timings
    assert all(seconds < 1.0 for _, seconds in timings.values()), timings


def test_the_flooding_address_keeps_only_its_share_of_connections(gateway):
    sockets = flood(gateway.port)
    try:
        time.sleep(1.0)
        still_open = 0
        for sock in sockets:
            sock.setblocking(False)
            try:
                still_open += sock.recv(1) != b""
            except BlockingIOError:
                still_open += 1  # open and silent
            except OSError:
                pass  # reset: displaced
    finally:
        for sock in sockets:
            sock.close()

    # GATEWAY_MAX_CONNECTIONS_PER_ADDRESS (256) for the whole server; the rest were displaced.
    assert still_open <= 256
