"""Test connection: an incomplete password grant that reports reachability, status and latency."""

import socket
from urllib.parse import parse_qsl

import pytest
import responses

from oauthgw.upstream.client import UpstreamConfig, probe_token_endpoint

URL = "http://probe.test/token"
CONFIG = UpstreamConfig(name="probe", token_url=URL, client_id="gw", client_secret="gw-secret", timeout=2.0)


@pytest.fixture
def mock():
    with responses.RequestsMock() as requests_mock:
        yield requests_mock


def test_a_token_endpoint_refusing_the_incomplete_grant_is_ok(mock):
    mock.add(responses.POST, URL, status=400, json={"error": "invalid_request"})

    probe = probe_token_endpoint(CONFIG)

    assert (probe.verdict, probe.status, probe.error, probe.reachable) == ("ok", 400, "invalid_request", True)
    assert probe.latency >= 0


def test_no_password_and_a_random_username_are_sent(mock):
    mock.add(responses.POST, URL, status=400, json={"error": "invalid_request"})
    mock.add(responses.POST, URL, status=400, json={"error": "invalid_request"})

    probe_token_endpoint(CONFIG)
    probe_token_endpoint(CONFIG)

    first, second = (dict(parse_qsl(call.request.body)) for call in mock.calls)
    assert first["grant_type"] == "password"
    assert "password" not in first
    assert first["username"].startswith("oauthgw-connection-test-")
    assert first["username"] != second["username"]


def test_the_gateways_own_client_credentials_are_sent_with_basic(mock):
    mock.add(responses.POST, URL, status=401, json={"error": "invalid_grant"})

    probe_token_endpoint(CONFIG)

    assert mock.calls[0].request.headers["Authorization"].startswith("Basic ")


def test_glewlwyds_empty_403_is_ok(mock):
    mock.add(responses.POST, URL, status=403, body=b"")

    assert probe_token_endpoint(CONFIG).verdict == "ok"


@pytest.mark.parametrize("error", ["invalid_client", "unauthorized_client", "unsupported_grant_type"])
def test_refusing_the_gateways_client_is_misconfigured(mock, error):
    mock.add(responses.POST, URL, status=401, json={"error": error})

    probe = probe_token_endpoint(CONFIG)

    assert (probe.verdict, probe.error) == ("misconfigured", error)


@pytest.mark.parametrize("status", [200, 302, 404, 500])
def test_answers_a_token_endpoint_would_not_give_are_unexpected(mock, status):
    mock.add(responses.POST, URL, status=status, json={"access_token": "x"} if status == 200 else None)

    probe = probe_token_endpoint(CONFIG)

    assert (probe.verdict, probe.status) == ("unexpected", status)


def test_a_closed_port_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = UpstreamConfig(name="closed", token_url=f"http://127.0.0.1:{port}/token", client_id="gw", timeout=1.0)

    probe = probe_token_endpoint(config)

    assert (probe.verdict, probe.status, probe.reachable) == ("unreachable", None, False)
    assert "connection" in probe.detail
