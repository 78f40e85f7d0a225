"""A worker process killed under the server: it is replaced, and its metrics still count.

The gateway runs as deployed (``python -m gatewayproj.server``) with two workers;
one is killed with SIGKILL, as the OOM killer would.
"""

import os
import re
import signal
import time
from pathlib import Path

import pytest
import requests

from tests.support.deployments import Gateway, deployment_for_this_run
from tests.support.processes import DevAuthorizationServerProcess

pytestmark = pytest.mark.e2e

TOKENS = 6


@pytest.fixture
def gateway(tmp_path):
    upstream = DevAuthorizationServerProcess(tmp_path, {"abc123": "xyz456"})
    upstream.start()
    try:
        with deployment_for_this_run(upstream.url, tmp_path) as deployment:
            instance = Gateway(deployment, tmp_path / "gateway.log", workers=2)
            instance.client = deployment.create_client(grant_types="client_credentials")
            yield instance
            instance.stop()
    finally:
        upstream.stop()


def workers(gateway) -> list[int]:
    pid = gateway.process.pid
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def tokens_issued(gateway) -> float:
    exposition = requests.get(f"{gateway.url}/metrics", timeout=10).text
    labels = f'client_id="{gateway.client["client_id"]}",grant_type="client_credentials"'
    pattern = rf"^oauthgw_tokens_issued_total\{{{labels}\}} (\S+)$"
    match = re.search(pattern, exposition, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.2)


def test_a_killed_worker_is_replaced_and_the_tokens_it_counted_stay_counted(gateway):
    wait_for(lambda: len(workers(gateway)) == 2 and requests.get(f"{gateway.url}/healthz", timeout=5).ok)
    for _ in range(TOKENS):  # each on a new connection, so both workers take some
        assert gateway.token(gateway.client, grant_type="client_credentials").status_code == 200
    assert tokens_issued(gateway) == TOKENS
    victim = workers(gateway)[0]

    os.kill(victim, signal.SIGKILL)

    wait_for(lambda: victim not in workers(gateway) and len(workers(gateway)) == 2)
    assert all(requests.get(f"{gateway.url}/healthz", timeout=10).status_code == 200 for _ in range(10))
    assert tokens_issued(gateway) == TOKENS
