"""The access log and request ids of the server as deployed (``python -m gatewayproj.server``)."""

import json
import time

import pytest
import requests

from tests.support.deployments import Gateway, deployment_for_this_run
from tests.support.processes import DevAuthorizationServerProcess

pytestmark = pytest.mark.e2e

FIELDS = [
    "time",
    "level",
    "logger",
    "request_id",
    "remote_addr",
    "method",
    "path",
    "status",
    "bytes",
    "duration_ms",
    "user_agent",
]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    upstream = DevAuthorizationServerProcess(tmp_path_factory.mktemp("upstream"), {"abc123": "xyz456"})
    upstream.start()
    try:
        with deployment_for_this_run(upstream.url, tmp_path_factory.mktemp("deployment")) as deployment:
            instance = Gateway(
                deployment, tmp_path_factory.mktemp("gateway") / "gateway.log", extra_env={"GATEWAY_ACCESS_LOG": "1"}
            )
            yield instance
            instance.stop()
    finally:
        upstream.stop()


def access_lines(gateway) -> list[dict]:
    lines = [line for line in gateway.log_path.read_text().splitlines() if '"gatewayproj.access"' in line]
    return [json.loads(line) for line in lines]


def test_each_request_is_one_json_line_with_its_request_id_and_without_query_or_credentials(gateway):
    response = requests.get(
        f"{gateway.url}/helloworld/?access_token=secret-in-query",
        headers={"X-Request-ID": "trace-42", "Authorization": "Bearer secret-in-header", "User-Agent": "probe/1"},
        timeout=10,
    )
    time.sleep(0.2)  # the line is written once the answer has been handed over

    assert response.headers["X-Request-ID"] == "trace-42"
    [line] = [line for line in access_lines(gateway) if line["request_id"] == "trace-42"]
    assert list(line) == FIELDS
    assert (line["method"], line["path"], line["status"], line["user_agent"]) == (
        "GET",
        "/helloworld/",
        response.status_code,
        "probe/1",
    )
    assert line["remote_addr"] == "127.0.0.1"
    assert line["bytes"] == len(response.content)
    assert "secret" not in gateway.log_path.read_text()


def test_an_unusable_request_id_is_replaced_by_a_fresh_one(gateway):
    response = requests.get(f"{gateway.url}/healthz", headers={"X-Request-ID": "bad id!"}, timeout=10)

    assert response.status_code == 200
    assert len(response.headers["X-Request-ID"]) == 32
