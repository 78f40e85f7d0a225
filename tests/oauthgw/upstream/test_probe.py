"""The two probes of a token endpoint: liveness (the breaker's, and the connection test's first) and the
gateway's registration (the connection test's second). Neither carries anyone's credentials."""

import socket
import time
from urllib.parse import parse_qsl

import pytest
import responses

from oauthgw.upstream.client import (
    PROBE_GRANT_TYPE,
    UpstreamConfig,
    probe_client_registration,
    probe_token_endpoint,
)

URL = "http://probe.test/token"
CONFIG = UpstreamConfig(name="probe", token_url=URL, client_id="gw", client_secret="gw-secret", timeout=2.0)


@pytest.fixture
def mock():
    with responses.RequestsMock() as requests_mock:
        yield requests_mock


def sent(mock, n: int = 0) -> dict:
    return dict(parse_qsl(mock.calls[n].request.body))


# --- Liveness: a grant type no server knows ---------------------------------------------------


def test_liveness_sends_only_a_grant_type_no_server_knows_with_the_gateways_client(mock):
    mock.add(responses.POST, URL, status=400, json={"error": "unsupported_grant_type"})

    probe = probe_token_endpoint(CONFIG)

    assert sent(mock) == {"grant_type": PROBE_GRANT_TYPE}
    assert "://" not in PROBE_GRANT_TYPE  # not an absolute URI: never a registered extension grant
    assert mock.calls[0].request.headers["Authorization"].startswith("Basic ")
    assert (probe.verdict, probe.status, probe.error, probe.reachable) == ("ok", 400, "unsupported_grant_type", True)


@pytest.mark.parametrize(
    ("status", "body"),
    [(400, {"error": "unsupported_grant_type"}), (400, {"error": "invalid_request"}), (400, None), (403, None)],
)
def test_liveness_takes_any_refusal_of_the_grant_as_a_token_endpoint(mock, status, body):
    # Glewlwyd answers an empty 400 to every request it refuses.
    mock.add(responses.POST, URL, status=status, json=body)

    assert probe_token_endpoint(CONFIG).verdict == "ok"


@pytest.mark.parametrize("error", ["invalid_client", "unauthorized_client"])
def test_liveness_refused_for_the_gateways_client_is_misconfigured(mock, error):
    mock.add(responses.POST, URL, status=401, json={"error": error})

    assert probe_token_endpoint(CONFIG).verdict == "misconfigured"


@pytest.mark.parametrize("status", [200, 302, 404, 500])
def test_liveness_answers_a_token_endpoint_would_not_give_are_unexpected(mock, status):
    mock.add(responses.POST, URL, status=status, json={"access_token": "x"} if status == 200 else None)

    probe = probe_token_endpoint(CONFIG)

    assert (probe.verdict, probe.status) == ("unexpected", status)


def test_liveness_of_a_server_that_answers_only_after_the_timeout_is_unreachable():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, URL, callback=lambda request: time.sleep(0.5) or (400, {}, ""))

        probe = probe_token_endpoint(UpstreamConfig(name="slow", token_url=URL, client_id="gw", timeout=0.2))
        time.sleep(0.4)  # the abandoned call ends before the mock goes

    assert (probe.verdict, probe.reachable) == ("unreachable", False)


def test_a_closed_port_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = UpstreamConfig(name="closed", token_url=f"http://127.0.0.1:{port}/token", client_id="gw", timeout=1.0)

    probe = probe_token_endpoint(config)

    assert (probe.verdict, probe.status, probe.reachable) == ("unreachable", None, False)
    assert "connection" in probe.detail


# --- The gateway's registration: an incomplete password grant ---------------------------------


def test_registration_sends_no_password_and_a_random_username(mock):
    mock.add(responses.POST, URL, status=400, json={"error": "invalid_request"})
    mock.add(responses.POST, URL, status=400, json={"error": "invalid_request"})

    probe = probe_client_registration(CONFIG)
    probe_client_registration(CONFIG)

    first, second = sent(mock, 0), sent(mock, 1)
    assert first["grant_type"] == "password"
    assert "password" not in first
    assert first["username"].startswith("oauthgw-connection-test-")
    assert first["username"] != second["username"]
    assert (probe.verdict, probe.status, probe.error) == ("ok", 400, "invalid_request")


def test_registration_takes_glewlwyds_empty_403_as_ok(mock):
    mock.add(responses.POST, URL, status=403, body=b"")

    assert probe_client_registration(CONFIG).verdict == "ok"


@pytest.mark.parametrize("error", ["invalid_client", "unauthorized_client", "unsupported_grant_type"])
def test_registration_refusing_the_gateways_client_or_grant_is_misconfigured(mock, error):
    mock.add(responses.POST, URL, status=401, json={"error": error})

    probe = probe_client_registration(CONFIG)

    assert (probe.verdict, probe.error) == ("misconfigured", error)


def test_registration_answered_200_is_unexpected(mock):
    mock.add(responses.POST, URL, status=200, json={"access_token": "x", "token_type": "bearer"})

    assert probe_client_registration(CONFIG).verdict == "unexpected"
