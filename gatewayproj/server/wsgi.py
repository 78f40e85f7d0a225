"""Between HTTP/1.1 and WSGI: the environ of a parsed request, and the bytes of an application's answer.

Runs in the worker threads (``scheduling``): a request reaches the application
only once it is complete, so ``wsgi.input`` is an in-memory body and nothing
here waits on a client. Header values are passed as the bytes the client sent,
decoded as ISO-8859-1 (PEP 3333), so a value with bytes outside ASCII reaches
Django as sent rather than vanishing.
"""

import io
import sys
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus

# Headers Django reads without the HTTP_ prefix (PEP 3333).
_UNPREFIXED = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}
# A streamed answer larger than this is sent in pieces instead of collected first.
COLLECT_LIMIT = 8 * 1024 * 1024


def base_environ(*, server_name: str, server_port: str) -> dict:
    """What every request's environ of one worker shares."""
    return {
        "SCRIPT_NAME": "",
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def header_environ(environ: dict, headers: list[tuple[bytes, bytes]]) -> None:
    """Add the request's headers to ``environ`` as CGI variables."""
    for name, value in headers:
        lowered = name.lower()
        key = _UNPREFIXED.get(lowered)
        if key is None:
            if b"_" in lowered:
                # X_Forwarded_For would land on the key of X-Forwarded-For: dropped, as gunicorn does.
                continue
            key = "HTTP_" + lowered.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        if key in environ:
            environ[key] += ("; " if key == "HTTP_COOKIE" else ",") + text
        else:
            environ[key] = text


def with_body(environ: dict, body: bytes) -> dict:
    """The environ with its whole body, however the client framed it (a length, or chunks)."""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True
    if body or "CONTENT_LENGTH" in environ:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


_status_lines: dict[int, bytes] = {}


def status_line(status: int) -> bytes:
    line = _status_lines.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        line = _status_lines[status] = f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")
    return line


_date_second = 0
_date_header = b""


def date_header() -> bytes:
    # RFC 9110 section 6.6.1: an origin server with a clock sends Date; once per second is enough.
    global _date_second, _date_header
    now = int(time.time())
    if now != _date_second:
        _date_header = b"date: " + formatdate(now, usegmt=True).encode("ascii") + b"\r\n"
        _date_second = now
    return _date_header


class Answer:
    """An application's answer: its status and headers, and a whole body or the pieces of a long one."""

    __slots__ = ("body", "chunks", "close", "headers", "request_id", "status")

    def __init__(self, status: int, headers: list, body: bytes = b"", chunks=None):
        self.status, self.headers, self.body, self.chunks = status, headers, body, chunks
        self.close = None  # the application's close(), for a streamed answer
        self.request_id = None


def call_application(application: Callable, environ: dict) -> Answer:
    """Run a WSGI application to its answer; a long streamed body is left to be read in pieces."""
    started: list = []
    written: list[bytes] = []

    def start_response(status: str, headers: list, exc_info=None):
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [int(status[:3]), headers]
        return written.append

    result = application(environ, start_response)
    streaming = getattr(result, "streaming", False)
    if streaming and _declared_length(started[1]) > COLLECT_LIMIT:
        answer = Answer(*started, chunks=iter(result))
        answer.close = getattr(result, "close", None)
        return answer
    try:
        body = b"".join([*written, *result])
    finally:
        if hasattr(result, "close"):
            result.close()  # Django's request_finished: connections and request ids released
    return Answer(*started, body=body)


def _declared_length(headers: list) -> int:
    for name, value in headers:
        if name.lower() == "content-length":
            return int(value) if value.isdigit() else COLLECT_LIMIT + 1
    return COLLECT_LIMIT + 1


def head_bytes(answer: Answer, *, keep_alive: bool, chunked: bool) -> bytes:
    """The status line and headers of ``answer``, with the framing this server adds."""
    parts = [status_line(answer.status)]
    has_length = False
    for name, value in answer.headers:
        lowered = name.lower()
        if lowered == "content-length":
            has_length = True
        elif lowered == "x-request-id":
            answer.request_id = value
        elif lowered in ("connection", "transfer-encoding", "keep-alive"):
            continue  # hop-by-hop: this server decides them
        parts.append(f"{name}: {value}\r\n".encode("latin-1"))
    if chunked:
        parts.append(b"transfer-encoding: chunked\r\n")
    elif not has_length:
        parts.append(b"content-length: %d\r\n" % len(answer.body))
    parts.append(date_header())
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def plain_answer(status: int, description: str, *, extra: bytes = b"") -> bytes:
    """A whole JSON error answer that closes the connection, for what never reaches the application."""
    body = b'{"error": "invalid_request", "error_description": "%s"}' % description.encode("ascii")
    if status >= 500:
        body = b'{"error": "temporarily_unavailable", "error_description": "%s"}' % description.encode("ascii")
    return b"".join(
        [
            status_line(status),
            b"content-type: application/json\r\ncache-control: no-store\r\n",
            extra,
            b"content-length: %d\r\n" % len(body),
            date_header(),
            b"connection: close\r\n\r\n",
            body,
        ]
    )
