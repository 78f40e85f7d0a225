"""HTTP/1.1 as the production server speaks it (gatewayproj.server.connection), over real sockets.

A worker of the real server serves a small echoing WSGI application
(tests/support/echo_server.py), so what is tested is the server alone: parsing,
framing, limits and deadlines. The timeouts are shortened to fractions of a second.
"""

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
import requests

from tests.support.processes import ROOT

TIMEOUT = 0.6  # GATEWAY_BODY_READ_TIMEOUT: headers, then the body
KEEPALIVE = 0.5


@contextmanager
def echo_server(**env: str):
    settings = {
        "GATEWAY_BODY_READ_TIMEOUT": str(TIMEOUT),
        "GATEWAY_KEEPALIVE_TIMEOUT": str(KEEPALIVE),
        "GATEWAY_SEND_TIMEOUT": "1",
        "GATEWAY_THREADS": "2",
        "GATEWAY_ACCESS_LOG": "0",
        "WEB_CONCURRENCY": "1",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.echo_server"],
        cwd=ROOT,
        env={**os.environ, **settings},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield int(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def port():
    with echo_server() as port:
        yield port


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    _buffers.pop(sock.fileno(), None)
    sock.bind((source, 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    return sock


_buffers: dict[int, bytes] = {}


def _fill(sock: socket.socket, data: bytes, enough) -> bytes:
    while not enough(data):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a whole answer: {data[:200]!r}")
        data += chunk
    return data


def read_answer(sock: socket.socket) -> tuple[int, dict, bytes]:
    """One whole answer: status, headers (lower-case names), body (by Content-Length or chunks).

    Bytes of a following (pipelined) answer are kept for the next call on the same socket.
    """
    data = _fill(sock, _buffers.pop(sock.fileno(), b""), lambda d: b"\r\n\r\n" in d)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        length = int(headers["content-length"])
        rest = _fill(sock, rest, lambda d: len(d) >= length)
        _buffers[sock.fileno()] = rest[length:]
        return status, headers, rest[:length]
    body = b""
    while True:  # chunked
        rest = _fill(sock, rest, lambda d: b"\r\n" in d)
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        rest = _fill(sock, rest, lambda d, size=size: len(d) >= size + 2)
        if size == 0:
            _buffers[sock.fileno()] = rest[2:]
            return status, headers, body
        body += rest[:size]
        rest = rest[size + 2 :]


def get(port: int, path: str, *, source: str) -> tuple[int, float]:
    """GET ``path`` from the loopback address ``source``: the status and the seconds it took."""
    started = time.monotonic()
    with connect(port, source) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        status = read_answer(sock)[0]
    return status, time.monotonic() - started


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closes the connection within ``seconds``, and what it sent before."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        return False, received
    except ConnectionResetError:
        pass
    return True, received


def test_the_environ_carries_the_request_as_wsgi_defines_it(port):
    answer = requests.post(
        f"http://127.0.0.1:{port}/oauth2/caf%C3%A9%20x?a=1&b=%20",
        data="a=b",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Forwarded-For": "198.51.100.1",
            "Cookie": "a=1",
        },
        timeout=5,
    ).json()

    assert answer["method"] == "POST"
    # The path's UTF-8 bytes as latin-1 characters, which Django decodes back.
    assert answer["path"] == "/oauth2/caf\u00c3\u00a9 x"
    assert answer["query"] == "a=1&b=%20"
    assert answer["remote_addr"] == "127.0.0.1"
    headers = answer["headers"]
    assert (headers["CONTENT_TYPE"], headers["CONTENT_LENGTH"]) == ("application/x-www-form-urlencoded", "3")
    assert "HTTP_CONTENT_TYPE" not in headers
    assert headers["HTTP_X_FORWARDED_FOR"] == "198.51.100.1"
    assert answer["body"] == "a=b"


def test_repeated_headers_are_joined_and_names_with_underscores_are_dropped(port):
    with connect(port) as sock:
        sock.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 198.51.100.2\r\n"
            b"Cookie: a=1\r\nCookie: b=2\r\nX_Forwarded_For: 6.6.6.6\r\n\r\n"
        )
        _, _, body = read_answer(sock)

    headers = json.loads(body)["headers"]
    assert headers["HTTP_X_FORWARDED_FOR"] == "198.51.100.1,198.51.100.2"
    assert headers["HTTP_COOKIE"] == "a=1; b=2"


def test_a_header_value_with_bytes_outside_ascii_reaches_the_application_as_sent(port):
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xc3\xa9abc\r\n\r\n")
        status, _, body = read_answer(sock)

    assert status == 200
    assert json.loads(body)["headers"]["HTTP_AUTHORIZATION"] == "Bearer \u00c3\u00a9abc"


def test_a_kept_alive_connection_serves_requests_in_turn_and_pipelined_ones_in_order(port):
    with connect(port) as sock:
        sock.sendall(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        first = read_answer(sock)
        sock.sendall(b"GET /two HTTP/1.1\r\nHost: x\r\n\r\nGET /three HTTP/1.1\r\nHost: x\r\n\r\n")
        second, third = read_answer(sock), read_answer(sock)

    assert [json.loads(answer[2])["path"] for answer in (first, second, third)] == ["/one", "/two", "/three"]
    assert "connection" not in first[1]


def test_http_1_0_and_connection_close_end_the_connection_after_the_answer(port):
    for request in (b"GET / HTTP/1.0\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
        with connect(port) as sock:
            sock.sendall(request)
            status, headers, _ = read_answer(sock)
            assert (status, headers["connection"]) == (200, "close")
            assert closed_within(sock, 2)[0]


def test_a_client_that_expects_100_continue_is_told_to_send_its_body(port):
    with connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"a=b")
        status, _, body = read_answer(sock)

    assert (status, json.loads(body)["body"]) == (200, "a=b")


def test_a_chunked_body_reaches_the_application_whole_with_its_length(port):
    with connect(port) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\na=b\r\n2\r\n&c\r\n0\r\n\r\n"
        )
        _, _, body = read_answer(sock)

    answer = json.loads(body)
    assert (answer["body"], answer["headers"]["CONTENT_LENGTH"]) == ("a=b&c", "5")


def test_a_head_request_gets_the_headers_without_the_body(port):
    with connect(port) as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        data = b""
        while data.count(b"\r\n\r\n") < 2 or not data.endswith(b"}"):
            data += sock.recv(65536)

    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"content-length:" in head.lower()
    assert rest.startswith(b"HTTP/1.1 200")  # the next answer follows at once: no body was sent


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n", 413),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"NONSENSE\r\n\r\n", 400),
    ],
    ids=["body too large", "target too long", "headers too large", "smuggling", "not HTTP"],
)
def test_requests_the_server_refuses_are_answered_and_the_connection_closed(port, request_bytes, status):
    with connect(port) as sock:
        sock.sendall(request_bytes)
        answer = read_answer(sock)
        closed, _ = closed_within(sock, 2)

    assert answer[0] == status
    assert answer[1]["connection"] == "close"
    assert json.loads(answer[2])["error"] == "invalid_request"
    assert closed


def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives(port):
    with connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):  # 96 KiB, over the 64 KiB limit
            sock.sendall(b"8000\r\n" + b"a" * 0x8000 + b"\r\n")
        status, _, _ = read_answer(sock)

    assert status == 413


def test_a_silent_connection_is_closed_after_the_header_timeout_without_an_answer(port):
    with connect(port) as sock:
        started = time.monotonic()
        closed, received = closed_within(sock, TIMEOUT + 2)

    assert closed and received == b""
    assert TIMEOUT - 0.1 < time.monotonic() - started < TIMEOUT + 1


def test_trickled_headers_get_no_more_time_than_silence(port):
    with connect(port) as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\n")
        for _ in range(8):  # a byte every tenth of a second would keep a per-read timeout from ever firing
            time.sleep(0.1)
            try:
                sock.sendall(b"X")
            except OSError:
                break
        closed, received = closed_within(sock, TIMEOUT + 2)

    assert closed
    assert received.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < TIMEOUT + 1


def test_a_stalled_body_gets_408_after_the_body_timeout(port):
    with connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\ngrant_type=")
        started = time.monotonic()
        status, headers, body = read_answer(sock)

    assert (status, headers["connection"]) == (408, "close")
    assert "did not arrive in time" in json.loads(body)["error_description"]
    assert time.monotonic() - started < TIMEOUT + 1


def test_a_kept_alive_connection_is_closed_when_idle_for_the_keepalive_timeout(port):
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        read_answer(sock)
        started = time.monotonic()
        closed, _ = closed_within(sock, KEEPALIVE + 2)

    assert closed
    assert time.monotonic() - started < KEEPALIVE + 1


def test_a_long_answer_is_streamed_in_chunks_and_cut_when_the_client_stops_reading(port):
    size = 9 * 1024 * 1024  # over what the server collects before writing
    with connect(port) as sock:
        sock.sendall(b"GET /large?%d HTTP/1.1\r\nHost: x\r\n\r\n" % size)
        _, headers, body = read_answer(sock)
        assert (headers["transfer-encoding"], len(body)) == ("chunked", size)

    with connect(port) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /large?%d HTTP/1.1\r\nHost: x\r\n\r\n" % size)
        time.sleep(3)  # never reads: the answer is cut after the send timeout (1 s here)
        with pytest.raises(ConnectionResetError):
            while sock.recv(65536):
                pass


def test_idle_and_stalled_connections_of_one_address_make_way_for_its_requests():
    with echo_server(GATEWAY_MAX_CONNECTIONS_PER_ADDRESS="8", GATEWAY_BODY_READ_TIMEOUT="30") as port:
        idle = [connect(port, "127.0.0.2") for _ in range(20)]
        stalled = []
        for _ in range(20):
            sock = connect(port, "127.0.0.2")
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx")
            stalled.append(sock)
        time.sleep(0.3)

        status, _ = get(port, "/ok", source="127.0.0.2")

        still_open = [sock for sock in idle + stalled if not closed_within(sock, 0.01)[0]]
        assert status == 200
        assert len(still_open) <= 8
        for sock in idle + stalled:
            sock.close()


def test_an_address_whose_connections_all_hold_requests_gets_503_for_more_while_others_are_served():
    with echo_server(GATEWAY_MAX_CONNECTIONS_PER_ADDRESS="2", GATEWAY_THREADS="4") as port:
        busy = []
        for _ in range(2):
            sock = connect(port, "127.0.0.3")
            sock.sendall(b"GET /slow?2 HTTP/1.1\r\nHost: x\r\n\r\n")
            busy.append(sock)
        time.sleep(0.3)

        with connect(port, "127.0.0.3") as extra:
            status, headers, _ = read_answer(extra)
        other, _ = get(port, "/ok", source="127.0.0.4")

        assert (status, headers["retry-after"]) == (503, "1")
        assert other == 200
        assert all(read_answer(sock)[0] == 200 for sock in busy)


def test_slow_requests_from_one_address_do_not_keep_another_address_waiting():
    with echo_server(GATEWAY_THREADS="2") as port:
        flood = []
        for _ in range(6):
            sock = connect(port, "127.0.0.5")
            sock.sendall(b"GET /slow?3 HTTP/1.1\r\nHost: x\r\n\r\n")
            flood.append(sock)
        time.sleep(0.3)

        status, waited = get(port, "/ok", source="127.0.0.6")

        assert status == 200
        assert waited < 1.0  # one of two threads is always left for others
        for sock in flood:
            sock.close()
