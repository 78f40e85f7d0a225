"""The upstream client: what counts as yes, no and "no clear answer", and what it sends.

Answers are stubbed with ``responses`` at the requests transport; faults that a stub
cannot fake (refused connections, silent servers, short bodies) come from small
servers on loopback ports.
"""

import base64
import dataclasses
import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
import traceback
from urllib.parse import parse_qsl, unquote_plus

import pytest
import responses

from oauthgw.exceptions import UpstreamUnavailable
from oauthgw.upstream.client import UpstreamConfig, _route, refresh_upstream, verify_password
from tests.support.faulty_servers import FaultyServer, read_request

TOKEN_URL = "http://upstream.test/token"
PASSWORD = "pa55-w0rd-never-shown"
ACCEPTED_BODY = {"access_token": "upstream-token", "token_type": "bearer", "expires_in": 60}

CONFIG = UpstreamConfig(
    name="test", token_url=TOKEN_URL, client_id="gateway", client_secret="gateway-secret", timeout=2.0
)


@pytest.fixture
def stub():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def verify(config: UpstreamConfig = CONFIG, *, username: str = "alice", password: str = PASSWORD, **kwargs):
    return verify_password(config, username=username, password=password, **kwargs)


def sent_form(call) -> dict[str, str]:
    body = call.request.body
    text = body.decode("ascii") if isinstance(body, bytes) else body
    return dict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict"))


def exception_text(exc: BaseException) -> str:
    """Everything a log line could show about the exception, causes included."""
    return "".join(traceback.format_exception(exc)) + repr(exc) + exc.detail


# --- Loopback servers for transport faults --------------------------------------------


@pytest.fixture
def loopback():
    servers: list[FaultyServer] = []

    def start(handle) -> UpstreamConfig:
        server = FaultyServer(handle)
        servers.append(server)
        return dataclasses.replace(CONFIG, token_url=server.url)

    yield start
    for server in servers:
        server.close()


def _never_answers(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    stop.wait(30)


def _truncated_token_response(conn: socket.socket, stop: threading.Event) -> None:
    # A complete JSON token response, but 80 bytes short of what the header promised.
    read_request(conn)
    body = b'{"access_token": "upstream-token"}'
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body) + 80}\r\n\r\n"
    conn.sendall(head.encode() + body)
    conn.close()


def _endless_chunked_body(conn: socket.socket, stop: threading.Event) -> None:
    # No Content-Length to refuse up front: the cap must stop the reading.
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b" " * 4096
    try:
        for _ in range(64):
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.sendall(b"0\r\n\r\n")
    except OSError:
        return  # the client stopped reading, as it should


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/token"


# --- Clear answers -------------------------------------------------------------------


def test_200_with_access_token_is_accepted(stub):
    stub.add(responses.POST, TOKEN_URL, json=ACCEPTED_BODY)

    verdict = verify()

    assert verdict.accepted is True
    assert verdict.status == 200


@pytest.mark.parametrize("status", [400, 401, 403])
def test_client_error_with_empty_body_is_a_rejection(stub, status):
    stub.add(responses.POST, TOKEN_URL, status=status, body=b"")

    verdict = verify()

    assert verdict.accepted is False
    assert verdict.status == status


def test_invalid_grant_error_document_is_a_rejection(stub):
    stub.add(responses.POST, TOKEN_URL, status=400, json={"error": "invalid_grant"})

    assert verify().accepted is False


# --- No clear answer -----------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_is_unavailable(stub, status):
    stub.add(responses.POST, TOKEN_URL, status=status, json={"error": "server_error"})

    with pytest.raises(UpstreamUnavailable) as caught:
        verify()

    assert caught.value.kind == "status"


def test_redirect_is_not_followed_and_is_unavailable(stub):
    # Following it would send the password wherever the Location header points.
    stub.add(responses.POST, TOKEN_URL, status=302, headers={"Location": "http://elsewhere.test/token"})

    with pytest.raises(UpstreamUnavailable) as caught:
        verify()

    assert caught.value.kind == "status"
    assert len(stub.calls) == 1


def test_200_without_json_is_unavailable(stub):
    stub.add(responses.POST, TOKEN_URL, status=200, body="<html>welcome</html>", content_type="text/html")

    with pytest.raises(UpstreamUnavailable) as caught:
        verify()

    assert caught.value.kind == "malformed"


@pytest.mark.parametrize(
    "document",
    [
        {"token_type": "bearer"},
        {"access_token": "", "token_type": "bearer"},
        {"access_token": 42, "token_type": "bearer"},
        ["access_token"],
    ],
    ids=["missing", "empty", "not-a-string", "not-an-object"],
)
def test_200_without_usable_access_token_is_unavailable(stub, document):
    stub.add(responses.POST, TOKEN_URL, status=200, json=document)

    with pytest.raises(UpstreamUnavailable) as caught:
        verify()

    assert caught.value.kind == "malformed"


@pytest.mark.parametrize(
    "document",
    [
        {**ACCEPTED_BODY, "error": "invalid_grant"},
        {**ACCEPTED_BODY, "error": None},
        {**ACCEPTED_BODY, "error": "server_error", "error_description": "try later"},
    ],
    ids=["error-code", "error-null", "error-with-description"],
)
def test_200_with_both_an_error_and_an_access_token_is_unavailable(stub, document):
    stub.add(responses.POST, TOKEN_URL, status=200, json=document)

    with pytest.raises(UpstreamUnavailable) as caught:
        verify()

    assert caught.value.kind == "malformed"


@pytest.mark.parametrize(
    "document",
    [
        {"access_token": "upstream-token"},
        {"access_token": "upstream-token", "token_type": 1},
        {"access_token": "upstream-token", "token_type": ["bearer"]},
        {"access_token": ["upstream-token"], "token_type": "bearer"},
        {"access_token": {"value": "upstream-token"}, "token_type": "bearer"},
    ],
    ids=["no-token-type", "token-type-number", "token-type-list", "token-list", "token-object"],
)
def test_200_whose_access_token_or_token_type_is_not_a_string_is_unavailable(stub, document):
    stub.add(responses.POST, TOKEN_URL, status=200, json=document)

    with pytest.raises(UpstreamUnavailable) as caught:
        verify()

    assert caught.value.kind == "malformed"


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, "invalid_client"), (400, "invalid_client"), (400, "unauthorized_client"), (400, "unsupported_grant_type")],
)
def test_error_about_the_gateways_own_client_is_misconfiguration_not_rejection(stub, status, error):
    stub.add(responses.POST, TOKEN_URL, status=status, json={"error": error})

    with pytest.raises(UpstreamUnavailable) as caught:
        verify()

    assert caught.value.kind == "misconfigured"


def test_connection_refused_is_unavailable():
    config = dataclasses.replace(CONFIG, token_url=closed_port_url())

    with pytest.raises(UpstreamUnavailable) as caught:
        verify(config)

    assert caught.value.kind == "connection"


def test_server_that_never_answers_is_unavailable_within_timeout_plus_one_second(loopback):
    config = dataclasses.replace(loopback(_never_answers), timeout=0.5)

    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable) as caught:
        verify(config)
    elapsed = time.monotonic() - started

    assert caught.value.kind == "timeout"
    assert elapsed < config.timeout + 1.0


def test_declared_body_over_the_cap_is_unavailable(stub):
    config = dataclasses.replace(CONFIG, max_response_bytes=1024)
    stub.add(responses.POST, TOKEN_URL, json={**ACCEPTED_BODY, "padding": "x" * 2048})

    with pytest.raises(UpstreamUnavailable) as caught:
        verify(config)

    assert caught.value.kind == "too_large"


def test_undeclared_body_over_the_cap_is_unavailable(loopback):
    config = dataclasses.replace(loopback(_endless_chunked_body), max_response_bytes=16384)

    with pytest.raises(UpstreamUnavailable) as caught:
        verify(config)

    assert caught.value.kind == "too_large"


def test_body_shorter_than_its_content_length_is_unavailable(loopback):
    # The bytes that did arrive form a valid token response: only the length
    # check stops a cut-off answer from counting as "accepted".
    config = loopback(_truncated_token_response)

    with pytest.raises(UpstreamUnavailable) as caught:
        verify(config)

    assert caught.value.kind == "transport"


# --- How it is sent ------------------------------------------------------------------


def _token_server(connections: list, requests_seen: list):
    """A keep-alive token endpoint: answers every request on a connection, counts connections."""
    body = json.dumps(ACCEPTED_BODY).encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        connections.append(conn)
        buffered = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffered += chunk
            while b"\r\n\r\n" in buffered:
                head, _, rest = buffered.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                if len(rest) < length:
                    break
                requests_seen.append(head.split(b"\r\n")[0])
                buffered = rest[length:]
                conn.sendall(answer)

    return serve


def test_calls_reuse_one_pooled_connection(loopback):
    connections, requests_seen = [], []
    config = loopback(_token_server(connections, requests_seen))

    verdicts = [verify(config) for _ in range(3)]

    assert all(verdict.accepted for verdict in verdicts)
    assert len(requests_seen) == 3
    assert len(connections) == 1


@pytest.fixture
def fresh_routes():
    # The environment is read once per URL and process; these tests change it.
    _route.cache_clear()
    yield
    _route.cache_clear()


def test_the_environments_proxy_is_used(loopback, monkeypatch, fresh_routes):
    connections, requests_seen = [], []
    proxy = loopback(_token_server(connections, requests_seen))
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.token_url.removesuffix("/token"))

    assert verify().accepted

    assert requests_seen == [f"POST {TOKEN_URL} HTTP/1.1".encode()]


def test_a_certificate_the_gateway_does_not_trust_is_unavailable(tmp_path, loopback):
    certificate, key = _self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    connections, requests_seen = [], []
    serve = _token_server(connections, requests_seen)

    def serve_tls(conn: socket.socket, stop: threading.Event) -> None:
        try:
            tls = context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the gateway refused the certificate during the handshake
        serve(tls, stop)

    config = loopback(serve_tls)
    config = dataclasses.replace(config, token_url=config.token_url.replace("http://", "https://"))

    with pytest.raises(UpstreamUnavailable) as caught:
        verify(config)

    assert caught.value.kind == "connection"
    assert requests_seen == []


def _self_signed_certificate(directory) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = directory / "upstream.pem", directory / "upstream.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(certificate_path), str(key_path)


# --- What is sent --------------------------------------------------------------------


def test_request_is_a_form_encoded_password_grant(stub):
    stub.add(responses.POST, TOKEN_URL, json=ACCEPTED_BODY)

    verify(username="alice")

    (call,) = stub.calls
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent_form(call) == {"grant_type": "password", "username": "alice", "password": PASSWORD}


def test_request_authenticates_the_gateway_with_form_encoded_basic(stub):
    config = dataclasses.replace(CONFIG, client_id="gate way&1", client_secret="s:e&c=r+t% é")
    stub.add(responses.POST, TOKEN_URL, json=ACCEPTED_BODY)

    verify(config)

    scheme, _, credentials = stub.calls[0].request.headers["Authorization"].partition(" ")
    client_id, _, client_secret = base64.b64decode(credentials).decode("ascii").partition(":")
    assert scheme == "Basic"
    assert (unquote_plus(client_id), unquote_plus(client_secret)) == ("gate way&1", "s:e&c=r+t% é")


def test_request_carries_the_configured_scope(stub):
    config = dataclasses.replace(CONFIG, scope="openid profile")
    stub.add(responses.POST, TOKEN_URL, json=ACCEPTED_BODY)

    verify(config)

    assert sent_form(stub.calls[0])["scope"] == "openid profile"


def test_request_has_no_scope_when_none_is_configured(stub):
    stub.add(responses.POST, TOKEN_URL, json=ACCEPTED_BODY)

    verify()

    assert "scope" not in sent_form(stub.calls[0])


def test_request_forwards_the_end_users_ip(stub):
    stub.add(responses.POST, TOKEN_URL, json=ACCEPTED_BODY)

    verify(client_ip="203.0.113.7")

    assert stub.calls[0].request.headers["X-Forwarded-For"] == "203.0.113.7"


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("a&b=c", "p&q=r"),
        ("plus+sign", "100%+sure"),
        ("with space", " leading and trailing "),
        ("%41%20not-decoded", "%2B%26"),
        ("josé.müller", "пароль-密码-ß"),
    ],
)
def test_credentials_with_reserved_and_non_ascii_characters_reach_upstream_unchanged(stub, username, password):
    stub.add(responses.POST, TOKEN_URL, json=ACCEPTED_BODY)

    verify(username=username, password=password)

    form = sent_form(stub.calls[0])
    assert form["username"].encode("utf-8") == username.encode("utf-8")
    assert form["password"].encode("utf-8") == password.encode("utf-8")


# --- The password never leaks into an error ------------------------------------------


def test_password_is_not_in_the_exception_for_a_server_error(stub):
    stub.add(responses.POST, TOKEN_URL, status=500, body=f"echo: password={PASSWORD}")

    with pytest.raises(UpstreamUnavailable) as caught:
        verify()

    assert PASSWORD not in exception_text(caught.value)


def test_password_is_not_in_the_exception_for_a_refused_connection():
    config = dataclasses.replace(CONFIG, token_url=closed_port_url())

    with pytest.raises(UpstreamUnavailable) as caught:
        verify(config)

    assert PASSWORD not in exception_text(caught.value)


def test_password_is_not_in_the_exception_for_a_timeout(loopback):
    config = dataclasses.replace(loopback(_never_answers), timeout=0.3)

    with pytest.raises(UpstreamUnavailable) as caught:
        verify(config)

    assert PASSWORD not in exception_text(caught.value)


# --- What an acceptance carries, and the refresh grant (sessions re-verified at refresh) -----

UPSTREAM_REFRESH_TOKEN = "upstream-refresh-token-never-shown"


def test_an_acceptance_carries_the_upstreams_refresh_token_and_lifetime_but_repr_hides_the_token(stub):
    stub.add(responses.POST, TOKEN_URL, json={**ACCEPTED_BODY, "refresh_token": UPSTREAM_REFRESH_TOKEN})

    verdict = verify()

    assert (verdict.refresh_token, verdict.expires_in) == (UPSTREAM_REFRESH_TOKEN, 60)
    assert UPSTREAM_REFRESH_TOKEN not in repr(verdict)


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ({}, (None, None)),
        ({"refresh_token": "", "expires_in": 0}, (None, None)),
        ({"refresh_token": 42, "expires_in": -5}, (None, None)),
        ({"expires_in": "120"}, (None, 120)),
        ({"expires_in": True}, (None, None)),
    ],
    ids=["absent", "empty-and-zero", "wrong-types", "lifetime-as-digits", "boolean-lifetime"],
)
def test_an_acceptance_without_a_usable_refresh_token_or_lifetime_says_none(stub, members, expected):
    body = {"access_token": "a", "token_type": "bearer", **members}
    stub.add(responses.POST, TOKEN_URL, json=body)

    verdict = verify()

    assert verdict.accepted
    assert (verdict.refresh_token, verdict.expires_in) == expected


def test_a_rejection_carries_no_refresh_token(stub):
    stub.add(responses.POST, TOKEN_URL, status=400, json={"error": "invalid_grant", "refresh_token": "x"})

    assert verify().refresh_token is None


def test_refresh_upstream_sends_the_refresh_grant_with_the_gateways_credentials_and_no_scope(stub):
    config = dataclasses.replace(CONFIG, scope="openid")
    stub.add(responses.POST, TOKEN_URL, json={**ACCEPTED_BODY, "refresh_token": "rotated"})

    verdict = refresh_upstream(config, refresh_token=UPSTREAM_REFRESH_TOKEN, client_ip="198.51.100.4")

    (call,) = stub.calls
    assert sent_form(call) == {"grant_type": "refresh_token", "refresh_token": UPSTREAM_REFRESH_TOKEN}
    assert call.request.headers["Authorization"].startswith("Basic ")
    assert call.request.headers["X-Forwarded-For"] == "198.51.100.4"
    assert (verdict.accepted, verdict.refresh_token) == (True, "rotated")


@pytest.mark.parametrize("status", [400, 401, 403])
def test_refresh_upstream_reads_a_client_error_as_a_rejection(stub, status):
    stub.add(responses.POST, TOKEN_URL, status=status, json={"error": "invalid_grant"})

    assert refresh_upstream(CONFIG, refresh_token=UPSTREAM_REFRESH_TOKEN).accepted is False


@pytest.mark.parametrize("error", ["invalid_client", "unauthorized_client", "unsupported_grant_type"])
def test_refresh_upstream_reads_a_refusal_of_the_gateways_registration_as_an_outage(stub, error):
    stub.add(responses.POST, TOKEN_URL, status=400, json={"error": error})

    with pytest.raises(UpstreamUnavailable) as caught:
        refresh_upstream(CONFIG, refresh_token=UPSTREAM_REFRESH_TOKEN)

    assert caught.value.kind == "misconfigured"


def test_refresh_upstream_reads_a_contradictory_200_as_an_outage(stub):
    stub.add(responses.POST, TOKEN_URL, json={**ACCEPTED_BODY, "error": "invalid_grant"})

    with pytest.raises(UpstreamUnavailable):
        refresh_upstream(CONFIG, refresh_token=UPSTREAM_REFRESH_TOKEN)


def test_refresh_upstream_gives_up_at_the_deadline_and_keeps_the_token_out_of_the_error(loopback):
    config = dataclasses.replace(loopback(_never_answers), timeout=0.3)
    started = time.monotonic()

    with pytest.raises(UpstreamUnavailable) as caught:
        refresh_upstream(config, refresh_token=UPSTREAM_REFRESH_TOKEN)

    assert time.monotonic() - started < 1.3
    assert UPSTREAM_REFRESH_TOKEN not in exception_text(caught.value)


def test_refresh_upstream_does_not_follow_a_redirect(stub):
    stub.add(responses.POST, TOKEN_URL, status=307, headers={"Location": "http://elsewhere.test/token"})

    with pytest.raises(UpstreamUnavailable):
        refresh_upstream(CONFIG, refresh_token=UPSTREAM_REFRESH_TOKEN)

    assert len(stub.calls) == 1


def test_the_config_repr_hides_the_gateways_client_secret():
    assert "gateway-secret" not in repr(CONFIG)
