"""The gateway's WSGI application served through granian's RSGI interface.

``python -m gatewayproj.server`` serves this module. Granian's Rust front end
parses HTTP; this bridge then reads the whole request body in granian's event
loop, under a deadline (``GATEWAY_BODY_READ_TIMEOUT``, 10 s) and a size cap
(Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``), and only a complete body reaches
Django, which runs in a bounded pool of threads (``GATEWAY_THREADS`` per
process, 4). A client that announces a body and goes silent therefore costs a
coroutine for at most the deadline, never a thread: it gets 408, an oversized
body 413, and health checks keep answering. (Granian's own WSGI interface reads
the body from the blocking thread, with no timeout.)

Each request is logged in the access log format of
``oauthgw.observability.access_log`` (``GATEWAY_ACCESS_LOG=0`` turns it off).
"""

import asyncio
import io
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable

from gatewayproj.env import env_str
from oauthgw.observability.access_log import access_log_line
from oauthgw.observability.request_id import HEADER as REQUEST_ID_HEADER
from oauthgw.observability.request_id import request_id_from

logger = logging.getLogger(__name__)

_JSON = [("content-type", "application/json"), ("cache-control", "no-store")]
_TIMEOUT_BODY = b'{"error": "invalid_request", "error_description": "The request body did not arrive in time."}'
_TOO_LARGE_BODY = b'{"error": "invalid_request", "error_description": "The request body is too large."}'
_FAILED_BODY = b'{"error": "server_error", "error_description": "The server could not answer."}'
# Headers that Django reads without the HTTP_ prefix (PEP 3333).
_UNPREFIXED = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


def environ_from_scope(scope, body: bytes) -> dict:
    """The PEP 3333 environ of an RSGI request whose whole body has been read."""
    host, _, port = scope.server.rpartition(":")
    remote, _, remote_port = scope.client.rpartition(":")
    # Granian hands the path percent-decoded as UTF-8; WSGI wants those bytes as latin-1.
    path = scope.path.encode("utf-8").decode("latin-1")
    environ = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": host.strip("[]"),
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": "HTTP/" + ("1.0" if scope.http_version == "1" else scope.http_version),
        "REMOTE_ADDR": remote.strip("[]"),
        "REMOTE_PORT": remote_port,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope.headers.items():
        if "_" in name:
            # X_Forwarded_For would land on the key of X-Forwarded-For: dropped, as gunicorn does.
            continue
        key = _UNPREFIXED.get(name) or "HTTP_" + name.upper().replace("-", "_")
        if key in environ:
            environ[key] += ("; " if key == "HTTP_COOKIE" else ",") + value
        else:
            environ[key] = value
    if "HTTP_HOST" not in environ and scope.authority:
        environ["HTTP_HOST"] = scope.authority  # HTTP/2 names the host in :authority
    # The body as read, whatever the client framed it with (Content-Length or chunks).
    if body or "CONTENT_LENGTH" in environ:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


class _Response:
    __slots__ = ("body", "chunks", "headers", "status")

    def __init__(self, status: int, headers: list, body: bytes = b"", chunks=None):
        self.status, self.headers, self.body, self.chunks = status, headers, body, chunks


def call_wsgi(application: Callable, environ: dict) -> _Response:
    """Run a WSGI application to its whole answer; a streaming Django response is left to iterate."""
    started: list = []
    written: list[bytes] = []

    def start_response(status: str, headers: list, exc_info=None):
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [int(status[:3]), headers]
        return written.append

    result = application(environ, start_response)
    if getattr(result, "streaming", False):
        return _Response(*started, chunks=result)
    try:
        body = b"".join([*written, *result])
    finally:
        if hasattr(result, "close"):
            result.close()  # Django's request_finished: connections and request ids released
    return _Response(*started, body=body)


# A streamed response (static files come as 8 KiB blocks) crosses threads in pieces this large.
_STREAM_PIECE = 64 * 1024


def _next_piece(chunks) -> bytes | None:
    parts, size = [], 0
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size >= _STREAM_PIECE:
            break
    return b"".join(parts) if parts else None


def _settle(future: asyncio.Future, result, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class Threads:
    """A fixed pool of threads whose results land in the event loop as asyncio futures.

    Leaner than ``loop.run_in_executor``, which chains a concurrent future to an
    asyncio one for every call: the hand-off is most of what this bridge adds.
    """

    def __init__(self, count: int, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"gateway-{n}", daemon=True) for n in range(count)]
        for thread in self._threads:
            thread.start()

    def run(self, function: Callable, *args) -> asyncio.Future:
        future = self._loop.create_future()
        self._calls.put((future, function, args))
        return future

    def stop(self) -> None:
        for _ in self._threads:
            self._calls.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while (call := self._calls.get()) is not None:
            future, function, args = call
            try:
                result, error = function(*args), None
            except BaseException as exc:  # handed to the awaiting coroutine, which decides
                result, error = None, exc
            self._loop.call_soon_threadsafe(_settle, future, result, error)


class WsgiBridge:
    """An RSGI application that serves a WSGI one once each request's body is complete."""

    def __init__(
        self,
        application: Callable,
        *,
        threads: int,
        read_timeout: float,
        max_body: int | None,
        access_log: bool,
    ):
        self.application = application
        self.threads = threads
        self.read_timeout = read_timeout
        self.max_body = max_body
        self.access_log = _access_logger() if access_log else None
        self.pool: Threads | None = None

    def __rsgi_init__(self, loop) -> None:
        self.pool = Threads(self.threads, loop)
        # The main process as it announced itself: a worker started after its death still stops.
        _stop_with_parent(loop, int(env_str("GATEWAY_SERVER_PID") or os.getppid()))

    def __rsgi_del__(self, loop) -> None:
        if self.pool is not None:
            self.pool.stop()

    async def __rsgi__(self, scope, protocol) -> None:
        started = time.perf_counter()
        if scope.proto != "http":
            protocol.close(403)  # no websockets here
            return
        body = await self._read_body(scope, protocol)
        if isinstance(body, int):
            status, content = body, _TIMEOUT_BODY if body == 408 else _TOO_LARGE_BODY
            # The rest of the body is never read: the connection closes after this answer.
            request_id = request_id_from({"HTTP_X_REQUEST_ID": scope.headers.get("x-request-id", "")})
            headers = [*_JSON, ("connection", "close"), (REQUEST_ID_HEADER, request_id)]
            protocol.response_bytes(status, headers, content)
            self._log(scope, status, headers, len(content), started)
            return
        environ = environ_from_scope(scope, body)
        try:
            response = await self.pool.run(call_wsgi, self.application, environ)
        except Exception:
            logger.exception("the application failed outside Django's handler: %s %s", scope.method, scope.path)
            response = _Response(500, list(_JSON), _FAILED_BODY)
        if response.chunks is None:
            protocol.response_bytes(response.status, response.headers, response.body)
            sent = 0 if scope.method == "HEAD" else len(response.body)
        else:
            sent = await self._stream(protocol, response)
        self._log(scope, response.status, response.headers, sent, started, environ)

    async def _read_body(self, scope, protocol) -> bytes | int:
        """The whole body, or 408 when it does not arrive in time, or 413 when it is too large."""
        headers = scope.headers
        length = headers.get("content-length")
        if length is None and "transfer-encoding" not in headers:
            return b""
        if length is not None and self.max_body is not None and int(length) > self.max_body:
            return 413
        try:
            async with asyncio.timeout(self.read_timeout):
                if length is not None:
                    return await protocol()
                return await self._read_chunks(protocol)
        except TimeoutError:
            logger.info("request body not received in time: %s %s", scope.method, scope.path)
            return 408

    async def _read_chunks(self, protocol) -> bytes | int:
        # Chunked: no length to check first, so the cap is applied as the body arrives.
        parts, size = [], 0
        async for chunk in protocol:
            size += len(chunk)
            if self.max_body is not None and size > self.max_body:
                return 413
            parts.append(chunk)
        return b"".join(parts)

    async def _stream(self, protocol, response: _Response) -> int:
        transport = protocol.response_stream(response.status, response.headers)
        chunks, sent = iter(response.chunks), 0
        try:
            while (chunk := await self.pool.run(_next_piece, chunks)) is not None:
                if chunk:
                    await transport.send_bytes(chunk)
                    sent += len(chunk)
        finally:
            await self.pool.run(response.chunks.close)
        return sent

    def _log(self, scope, status: int, headers: Iterable, sent: int, started: float, environ=None) -> None:
        if self.access_log is None:
            return
        request_id = next((value for name, value in headers if name.lower() == "x-request-id"), None)
        line = access_log_line(
            request_id=request_id,
            remote_addr=environ["REMOTE_ADDR"] if environ else scope.client.rpartition(":")[0].strip("[]"),
            method=scope.method,
            path=environ["PATH_INFO"] if environ else scope.path,
            status=status,
            sent=sent,
            seconds=time.perf_counter() - started,
            user_agent=scope.headers.get("user-agent"),
        )
        self.access_log.info(line)


def _stop_with_parent(loop, parent: int) -> None:
    # A worker whose main process died (kill -9, OOM) stops itself instead of serving on
    # as an orphan nobody will stop: granian's workers do not watch their parent.
    if os.getppid() != parent:
        logger.warning("the server's main process %s is gone; this worker stops", parent)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    loop.call_later(1.0, _stop_with_parent, loop, parent)


def _access_logger() -> logging.Logger:
    # One JSON object per line on stdout, as gunicorn's access log was.
    access = logging.getLogger("gatewayproj.access")
    if not access.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    return access


def _from_environ() -> WsgiBridge:
    from django.conf import settings

    from gatewayproj.wsgi import application

    return WsgiBridge(
        application,
        threads=int(env_str("GATEWAY_THREADS", "4")),
        read_timeout=float(env_str("GATEWAY_BODY_READ_TIMEOUT", "10")),
        max_body=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        access_log=env_str("GATEWAY_ACCESS_LOG", "1") != "0",
    )


application = _from_environ()
