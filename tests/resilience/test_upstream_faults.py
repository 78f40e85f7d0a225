"""Every way an upstream can fail gives 503 temporarily_unavailable, fast, logged once, no token.

The faults come from real sockets on loopback (tests/resilience/faulty_servers.py),
not from a stub, so the gateway's own timeouts and read caps are what is tested.
"""

import functools
import logging
import time
from urllib.parse import urlencode

import pytest
import responses
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tests.oauthgw.conftest import FORM, TOKEN_URL, USERNAME, basic_authorization
from tests.support import faulty_servers
from tests.support.faulty_servers import BlackHole, FaultyServer

TIMEOUT = 0.5
PASSWORD = "s3cret-pa55word-never-logged"


def serve_fixed(raw: bytes, conn, stop) -> None:
    faulty_servers.read_request(conn)
    conn.sendall(raw)
    conn.close()


def fixed(status_line: str, body: bytes, content_type: str = "application/json") -> FaultyServer:
    head = f"HTTP/1.1 {status_line}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return FaultyServer(functools.partial(serve_fixed, head.encode("ascii") + body))


class Url:
    def __init__(self, url: str):
        self.url = url

    def close(self) -> None:
        pass


FAULTS = {
    # name: (how to build the server, the cause the log line must name)
    "connection refused": (lambda: Url(faulty_servers.closed_port_url()), "connection"),
    "DNS failure": (lambda: Url("http://upstream-that-does-not-exist.invalid/token"), "connection"),
    "connect timeout": (BlackHole, "timeout"),
    "accepts and says nothing": (lambda: FaultyServer(faulty_servers.serve_nothing), "timeout"),
    "read timeout after the request": (
        lambda: FaultyServer(faulty_servers.serve_silence_after_the_request),
        "timeout",
    ),
    "hangs up without an answer": (lambda: FaultyServer(faulty_servers.serve_hang_up), "connection"),
    "500": (lambda: fixed("500 Internal Server Error", b'{"error": "server_error"}'), "HTTP 500"),
    "502 HTML page": (lambda: fixed("502 Bad Gateway", b"<html>bad gateway</html>", "text/html"), "HTTP 502"),
    "503": (lambda: fixed("503 Service Unavailable", b""), "HTTP 503"),
    "200 that is not JSON": (lambda: fixed("200 OK", b"<html>login</html>", "text/html"), "malformed"),
    "200 JSON without access_token": (lambda: fixed("200 OK", b'{"token_type": "bearer"}'), "malformed"),
    "200 JSON array": (lambda: fixed("200 OK", b'["access_token"]'), "malformed"),
    "redirect": (lambda: fixed("302 Found", b""), "HTTP 302"),
    "truncated body": (lambda: FaultyServer(faulty_servers.serve_truncated_body), "transport"),
    "enormous body": (lambda: FaultyServer(faulty_servers.serve_enormous_body), "too_large"),
    "body dripped byte by byte": (lambda: FaultyServer(faulty_servers.serve_drip), "timeout"),
}


@pytest.fixture(params=list(FAULTS), ids=list(FAULTS))
def fault(request, settings):
    build, cause = FAULTS[request.param]
    server = build()
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_TOKEN_URL": server.url, "UPSTREAM_TIMEOUT": TIMEOUT}
    yield cause
    server.close()


def login(client, app):
    return client.post(
        TOKEN_URL,
        urlencode({"grant_type": "password", "username": USERNAME, "password": PASSWORD}),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
    )


def test_fault_is_503_temporarily_unavailable_within_timeout_plus_one_second(client, make_client, fault):
    app = make_client()
    started = time.monotonic()

    response = login(client, app)

    assert time.monotonic() - started < TIMEOUT + 1
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert int(response["Retry-After"]) > 0
    assert response["Cache-Control"] == "no-store"


def test_fault_issues_no_token(client, make_client, fault):
    login(client, make_client())
    assert get_access_token_model().objects.count() == 0
    assert get_refresh_token_model().objects.count() == 0


def test_fault_is_logged_once_with_its_cause_and_never_the_password(client, make_client, fault, caplog):
    caplog.set_level(logging.DEBUG)
    login(client, make_client())
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [record.name for record in warnings] == ["oauthgw.issuing.password"]
    assert fault in warnings[0].getMessage()
    assert not [record for record in caplog.records if PASSWORD in record.getMessage()]


def test_the_gateway_keeps_answering_after_a_fault(client, make_client, fault, upstream_url, settings):
    app = make_client()
    login(client, app)
    # Point back at a healthy (stubbed) upstream: the next login works at once.
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_TOKEN_URL": upstream_url}
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, upstream_url, json={"access_token": "t", "token_type": "bearer"})
        assert login(client, app).status_code == 200
