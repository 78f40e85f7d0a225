"""The production server's main process (gatewayproj.server.master), run as operators run it.

``python -m gatewayproj.server`` with two workers in front of the embedded
deployment and the development authorization server: a port already in use, a
reload under traffic, a stop during a request, and an application that cannot start.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support.deployments import Gateway, embedded_deployment
from tests.support.processes import ROOT, DevAuthorizationServerProcess, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    process = DevAuthorizationServerProcess(tmp_path_factory.mktemp("upstream"), {"abc123": "xyz456"})
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def deployment(upstream, tmp_path_factory):
    with embedded_deployment(upstream.url, tmp_path_factory.mktemp("deployment")) as deployment:
        deployment.client = deployment.create_client()
        yield deployment


@pytest.fixture
def gateway(deployment, tmp_path):
    instance = Gateway(deployment, tmp_path / "gateway.log", workers=2)
    try:
        wait_until_serving(instance)
        yield instance
    finally:
        instance.stop()


def wait_until_serving(gateway, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(f"{gateway.url}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass  # the main process listens before its workers serve
        assert time.monotonic() < deadline, gateway.log_path.read_text()
        time.sleep(0.1)


def workers(gateway) -> set[int]:
    pid = gateway.process.pid
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_a_second_server_on_a_port_in_use_exits_at_once_naming_it_and_the_first_serves_on(gateway, deployment):
    started = time.monotonic()
    second = subprocess.run(
        [sys.executable, "-m", "gatewayproj.server"],
        cwd=ROOT,
        env={**deployment.env, "GATEWAY_BIND": f"127.0.0.1:{gateway.port}", "DJANGO_LOG_FORMAT": "plain"},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert second.returncode == 1
    assert time.monotonic() - started < 10
    assert f"127.0.0.1:{gateway.port}" in second.stderr and "already in use" in second.stderr
    for _ in range(10):  # each on a new connection: none reaches a second server
        assert gateway.token(deployment.client, grant_type="client_credentials").status_code == 200


def test_sighup_replaces_every_worker_without_refusing_a_request(gateway, deployment):
    before = workers(gateway)
    statuses: list[int | str] = []
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            try:
                statuses.append(gateway.token(deployment.client, grant_type="client_credentials").status_code)
            except requests.RequestException as exc:
                statuses.append(type(exc).__name__)

    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        time.sleep(0.5)
        os.kill(gateway.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 60
        while not (len(workers(gateway)) == 2 and not workers(gateway) & before):
            assert time.monotonic() < deadline, "the workers were not replaced"
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join()

    assert statuses and set(statuses) == {200}, statuses


def test_sigterm_lets_a_request_in_progress_finish_then_stops(gateway, deployment, upstream):
    upstream.freeze()  # the password check waits for the upstream's timeout (2 s here), then answers 503
    try:
        answer: list = []
        thread = threading.Thread(
            target=lambda: answer.append(
                gateway.token(deployment.client, grant_type="password", username="abc123", password="xyz456")
            )
        )
        thread.start()
        time.sleep(0.5)

        gateway.process.send_signal(signal.SIGTERM)

        thread.join(30)
        assert gateway.process.wait(30) == 0
    finally:
        upstream.thaw()
    assert answer and answer[0].status_code == 503  # answered, not cut off
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{gateway.url}/healthz", timeout=2)


def test_a_gateway_whose_application_cannot_start_exits_with_an_error(deployment, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gatewayproj.server"],
        cwd=ROOT,
        env={
            **deployment.env,
            "DJANGO_SETTINGS_MODULE": "gatewayproj.no_such_settings",
            "GATEWAY_BIND": f"127.0.0.1:{free_port()}",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert "cannot start" in result.stderr
