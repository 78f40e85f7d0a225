"""The RSGI bridge (gatewayproj.rsgi): the WSGI environ it builds, and the bodies it lets through.

Driven with stand-ins for granian's scope and protocol objects and a small WSGI
application that echoes what it was given; tests/resilience/test_slow_bodies.py
runs the real server.
"""

import asyncio
import io
import json
import logging

from gatewayproj.rsgi import WsgiBridge, environ_from_scope


class Headers:
    """granian's RSGIHeaders: lower-case names, one item per header line."""

    def __init__(self, items: list[tuple[str, str]]):
        self._items = items

    def items(self):
        return list(self._items)

    def get(self, name, default=None):
        return next((value for key, value in self._items if key == name), default)

    def __contains__(self, name):
        return any(key == name for key, _ in self._items)


class Scope:
    proto = "http"
    http_version = "1.1"
    scheme = "http"
    server = "127.0.0.1:8000"
    authority = None

    def __init__(self, method="GET", path="/", query_string="", headers=(), client="203.0.113.7:51234"):
        self.method, self.path, self.query_string = method, path, query_string
        self.headers = Headers(list(headers))
        self.client = client


class Protocol:
    """Hands the body over whole or in chunks, optionally after a delay; records the response."""

    def __init__(self, body: bytes = b"", *, chunks: list[bytes] | None = None, delay: float = 0):
        self.body, self.chunks, self.delay = body, chunks, delay
        self.response = None

    async def __call__(self) -> bytes:
        await asyncio.sleep(self.delay)
        return self.body

    async def __aiter__(self):
        for chunk in self.chunks:
            await asyncio.sleep(self.delay)
            yield chunk

    def response_bytes(self, status, headers, body):
        self.response = (status, dict(headers), body)


def echo(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    seen = {key: value for key, value in environ.items() if isinstance(value, str)}
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Request-ID", "rid-1")])
    return [json.dumps({"environ": seen, "body": body.decode("latin-1")}).encode()]


def serve(scope, protocol, *, read_timeout=1.0, max_body=100, access_log=False) -> tuple[int, dict, bytes]:
    bridge = WsgiBridge(echo, threads=2, read_timeout=read_timeout, max_body=max_body, access_log=access_log)

    async def run():
        bridge.__rsgi_init__(asyncio.get_running_loop())
        try:
            await bridge.__rsgi__(scope, protocol)
        finally:
            bridge.__rsgi_del__(None)

    asyncio.run(run())
    return protocol.response


def test_the_environ_carries_the_request_as_wsgi_defines_it():
    scope = Scope(
        method="POST",
        path="/oauth2/caf\u00e9 x",
        query_string="a=1&b=%20",
        headers=[
            ("content-type", "application/x-www-form-urlencoded"),
            ("content-length", "3"),
            ("x-forwarded-for", "198.51.100.1"),
            ("x-forwarded-for", "198.51.100.2"),
            ("cookie", "a=1"),
            ("cookie", "b=2"),
        ],
    )

    environ = environ_from_scope(scope, b"a=b")

    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["SCRIPT_NAME"] == ""
    # The path's UTF-8 bytes as latin-1 characters, which Django decodes back.
    assert environ["PATH_INFO"] == "/oauth2/caf\u00c3\u00a9 x"
    assert environ["QUERY_STRING"] == "a=1&b=%20"
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("127.0.0.1", "8000")
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("203.0.113.7", "51234")
    assert environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert environ["CONTENT_LENGTH"] == "3"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert environ["HTTP_X_FORWARDED_FOR"] == "198.51.100.1,198.51.100.2"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["wsgi.input"].read() == b"a=b"


def test_an_ipv6_client_address_loses_its_brackets_and_port():
    environ = environ_from_scope(Scope(client="[2001:db8::1]:4444"), b"")

    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("2001:db8::1", "4444")


def test_a_header_with_an_underscore_is_dropped_so_it_cannot_pose_as_a_dashed_one():
    environ = environ_from_scope(Scope(headers=[("x_forwarded_for", "10.0.0.1")]), b"")

    assert "HTTP_X_FORWARDED_FOR" not in environ


def test_a_chunked_body_reaches_the_application_with_its_length():
    scope = Scope(method="POST", headers=[("transfer-encoding", "chunked")])

    status, _, body = serve(scope, Protocol(chunks=[b"grant_type=", b"client_credentials", b""]))

    answer = json.loads(body)
    assert status == 200
    assert answer["body"] == "grant_type=client_credentials"
    assert answer["environ"]["CONTENT_LENGTH"] == "29"


def test_a_request_without_a_body_is_not_waited_for():
    status, _, body = serve(Scope(), Protocol(delay=30))

    assert status == 200
    assert json.loads(body)["body"] == ""


def test_a_body_that_does_not_arrive_within_the_read_timeout_gets_408_and_a_closed_connection():
    scope = Scope(method="POST", headers=[("content-length", "10")])

    status, headers, body = serve(scope, Protocol(b"0123456789", delay=5), read_timeout=0.2)

    assert status == 408
    assert headers["connection"] == "close"
    assert headers["X-Request-ID"]
    assert json.loads(body)["error"] == "invalid_request"


def test_an_announced_body_over_the_limit_gets_413_without_being_read():
    scope = Scope(method="POST", headers=[("content-length", "101")])

    status, headers, body = serve(scope, Protocol(delay=30), max_body=100)

    assert status == 413
    assert headers["connection"] == "close"
    assert json.loads(body)["error"] == "invalid_request"


def test_a_chunked_body_that_grows_over_the_limit_gets_413():
    scope = Scope(method="POST", headers=[("transfer-encoding", "chunked")])

    status, _, _ = serve(scope, Protocol(chunks=[b"a" * 60, b"a" * 60, b""]), max_body=100)

    assert status == 413


def test_each_request_is_one_json_access_line_without_query_string_or_headers():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    access = logging.getLogger("gatewayproj.access")
    scope = Scope(
        path="/helloworld/",
        query_string="token=secret",
        headers=[("authorization", "Bearer secret"), ("user-agent", "probe/1")],
    )
    access.addHandler(handler)
    try:
        serve(scope, Protocol(), access_log=True)
    finally:
        access.removeHandler(handler)

    line = json.loads(stream.getvalue())
    assert list(line) == [
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
    assert (line["request_id"], line["remote_addr"], line["path"], line["status"]) == (
        "rid-1",
        "203.0.113.7",
        "/helloworld/",
        200,
    )
    assert "secret" not in stream.getvalue()


def test_a_streaming_django_response_is_sent_in_chunks():
    from django.http import StreamingHttpResponse

    sent = []

    class Transport:
        async def send_bytes(self, data):
            sent.append(data)

    class StreamingProtocol(Protocol):
        def response_stream(self, status, headers):
            self.response = (status, dict(headers), None)
            return Transport()

    def streaming(environ, start_response):
        response = StreamingHttpResponse(iter([b"one", b"two"]))
        start_response("200 OK", list(response.items()))
        return response

    bridge = WsgiBridge(streaming, threads=1, read_timeout=1, max_body=None, access_log=False)
    protocol = StreamingProtocol()

    async def run():
        bridge.__rsgi_init__(asyncio.get_running_loop())
        try:
            await bridge.__rsgi__(Scope(), protocol)
        finally:
            bridge.__rsgi_del__(None)

    asyncio.run(run())

    assert protocol.response[0] == 200
    assert b"".join(sent) == b"onetwo"
