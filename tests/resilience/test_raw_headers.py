"""Header values with bytes outside ASCII, sent raw to the server as deployed: read as sent, never dropped.

``python -m gatewayproj.server`` passes header values to Django as the bytes the
client sent (ISO-8859-1, PEP 3333). So a token with such bytes is a malformed
token (400 ``invalid_request``, RFC 6750 section 3.1), not a missing one (401
without an error), and no header of the kind makes anything answer 500.
"""

import json
import socket

import pytest

from tests.support.deployments import Gateway, embedded_deployment
from tests.support.processes import DevAuthorizationServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    upstream = DevAuthorizationServerProcess(tmp_path_factory.mktemp("upstream"), {"abc123": "xyz456"})
    upstream.start()
    try:
        with embedded_deployment(upstream.url, tmp_path_factory.mktemp("deployment")) as deployment:
            instance = Gateway(deployment, tmp_path_factory.mktemp("gateway") / "gateway.log", workers=1)
            try:
                instance.client = deployment.create_client()
                yield instance
            finally:
                instance.stop()
    finally:
        upstream.stop()


def raw(gateway, request: bytes) -> tuple[int, dict, dict]:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=20) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        headers = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(":") for line in head.decode("latin-1").split("\r\n")[1:])
        )
        while len(body) < int(headers.get("content-length", 0)):
            body += sock.recv(65536)
    status = int(head.split()[1])
    return status, headers, json.loads(body) if body.startswith(b"{") else {}


def test_a_bearer_token_with_bytes_outside_ascii_is_a_malformed_request_not_a_missing_token(gateway):
    status, headers, body = raw(
        gateway, b"GET /helloworld/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \xc3\xa9abcdef\r\n\r\n"
    )

    assert status == 400
    assert body["error"] == "invalid_request"
    assert 'error="invalid_request"' in headers["www-authenticate"]


def test_basic_credentials_with_bytes_outside_ascii_are_an_invalid_client(gateway):
    status, headers, body = raw(
        gateway,
        b"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic \xff\xfe\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\n\r\ngrant_type=client_credentials",
    )

    assert (status, body["error"]) == (401, "invalid_client")
    assert headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "header",
    [
        b"Host: \xc3\xa9.example",
        b"X-Forwarded-For: \xc3\xa9",
        b"X-Request-ID: \xc3\xa9",
        b"Cookie: sessionid=\xc3\xa9",
        b"Content-Type: application/x-www-form-urlencoded; charset=\xc3\xa9",
        b"User-Agent: \xff\xfe\xfd",
    ],
)
def test_no_header_value_outside_ascii_makes_the_gateway_fail(gateway, header):
    request = (
        b"POST /oauth2/token HTTP/1.1\r\n"
        + (b"" if header.startswith(b"Host") else b"Host: 127.0.0.1\r\n")
        + header
        + b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\n\r\n"
        + b"grant_type=client_credentials"
    )

    status, _, body = raw(gateway, request)

    assert status < 500
    assert body.get("error") != "server_error"
